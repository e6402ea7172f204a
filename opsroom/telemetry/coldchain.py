"""Temperature probes in fridges, freezers and hot-holding units."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, StrictBool

from opsroom.telemetry.base import Family, Number, Payload
from opsroom.telemetry.registry import register


class ColdchainPayload(Payload):
    """One temperature probe of a catering unit."""

    # from ultra-low freezers (-86 °C) to ovens and fryer oil (up to about 250-300 °C); a probe
    # reading beyond that is broken
    temp_c: Number = Field(ge=-90, le=300)
    door_open: StrictBool | None = None
    battery_pct: Number | None = Field(None, ge=0, le=100)  # a percentage


FAMILY = register(
    Family(
        kind="coldchain",
        model=ColdchainPayload,
        sample={
            "ts": "2026-07-04T18:30:00+01:00",
            "temp_c": 3.8,
            "door_open": False,
            "battery_pct": 87,
        },
        description="temperature probes in fridges, freezers and hot-holding units",
        report_interval=timedelta(seconds=60),
    )
)
