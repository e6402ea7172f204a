"""Temperature probes in fridges, freezers and hot-holding units."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, StrictBool

from opsroom.configfile import Strict
from opsroom.families.base import Family, Id, LatLon, NameZh, Section, reading_field
from opsroom.i18n import N_
from opsroom.telemetry.base import Number, Payload


class ColdchainPayload(Payload):
    """One temperature probe of a catering unit."""

    # from ultra-low freezers (-86 °C) to ovens and fryer oil (up to about 250-300 °C); a probe
    # reading beyond that is broken
    temp_c: Number = Field(ge=-90, le=300)
    door_open: StrictBool | None = None
    battery_pct: Number | None = Field(None, ge=0, le=100)  # a percentage


class CateringUnit(Strict):
    """A fridge, freezer or hot-holding unit with a temperature probe."""

    id: Id
    name: str = ""
    name_zh: NameZh = None  # the name in Chinese, shown in zh-CN when given
    type: Literal["fridge", "freezer", "hot_holding"]
    vendor: str = ""
    location: LatLon | None = None


UNIT_TYPES = ("fridge", "freezer", "hot_holding")
_CATERING = {"catering", *UNIT_TYPES}


def _unit_type(unit: Any) -> str:
    return str(unit.type)


def _label(unit: Any) -> str:
    return "hot-holding unit" if unit.type == "hot_holding" else str(unit.type)


FAMILY = Family(
    log_category="food_safety",
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
    title=N_("Cold chain"),  # translated where shown
    order=30,
    sections=(
        Section("catering", CateringUnit, "catering unit", _unit_type, UNIT_TYPES, label=_label),
    ),
    values=(
        reading_field("temp_c", "°C", _CATERING),
        reading_field("battery_pct", "%", _CATERING),
    ),
    key_fields=("temp_c",),
    required_field="temp_c",
)
