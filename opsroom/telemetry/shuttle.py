"""GPS trackers on the shuttle buses."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from opsroom.telemetry.base import Count, Family, Number, Payload
from opsroom.telemetry.registry import register


class ShuttlePayload(Payload):
    """A GPS fix of one shuttle bus."""

    lat: Number = Field(ge=-90, le=90)  # the globe's range
    lon: Number = Field(ge=-180, le=180)
    speed_kmh: Number = Field(ge=0, le=250)  # no road vehicle carrying passengers goes faster
    heading_deg: Number | None = Field(None, ge=0, le=360)  # compass degrees
    passengers: Count | None = Field(None, le=500)  # more than any articulated or double-deck bus


FAMILY = register(
    Family(
        kind="shuttle",
        model=ShuttlePayload,
        sample={
            "ts": "2026-07-04T18:30:00Z",
            "lat": 52.0712,
            "lon": -1.0186,
            "speed_kmh": 27.5,
            "heading_deg": 112.0,
            "passengers": 31,
        },
        description="GPS on the shuttle buses",
        report_interval=timedelta(seconds=10),
    )
)
