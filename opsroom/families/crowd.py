"""Crowd counters at zones and gates: occupancy and/or in/out counts since the last report.

Derived values and why:
- density_ppm2 = occupancy / area_m2 (persons per m²; HSG195, Fruin).
- occupancy_pct = occupancy / licensed capacity x 100.
- flow_ppmm = (in + out) / width_m / minutes since the previous report: both directions load
  the gate, and two-way flow through one gate is slower than the Green Guide's one-way rates,
  so counting both errs on the safe side. None for a gate's first report (no interval yet).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import Field, model_validator

from opsroom.configfile import FieldError, Strict
from opsroom.families.base import (
    Derived,
    Family,
    Id,
    LatLon,
    NameZh,
    Section,
    Subject,
    ValueFn,
    reading_field,
)
from opsroom.i18n import N_
from opsroom.telemetry.base import Count, Payload, Value


class CrowdPayload(Payload):
    """A people counter: people in the zone now, and/or people in and out since last report."""

    # Count: 0 to MAX_COUNT (a million, see base.py), for occupancy and for the in/out counts
    occupancy: Count | None = None
    in_: Count | None = Field(None, alias="in")
    out: Count | None = None

    @model_validator(mode="after")
    def _has_a_count(self) -> CrowdPayload:
        if self.occupancy is None and self.in_ is None and self.out is None:
            raise ValueError("needs occupancy, or in/out counts")
        return self

    def values(self) -> dict[str, float | int | bool]:
        out = super().values()
        if "in_" in out:
            out["in"] = out.pop("in_")
        return out


class Zone(Strict):
    """An area with a people counter: licensed capacity and usable area."""

    id: Id
    name: str = ""
    name_zh: NameZh = None  # the name in Chinese, shown in zh-CN when given
    area_m2: float = Field(gt=0, description="usable standing area in m²")
    capacity: int = Field(gt=0, description="licensed capacity, persons")
    location: LatLon | None = None
    polygon: list[LatLon] | None = Field(None, min_length=3)


class Gate(Strict):
    """An entry/exit gate with an in/out counter."""

    id: Id
    name: str = ""
    name_zh: NameZh = None  # the name in Chinese, shown in zh-CN when given
    width_m: float = Field(gt=0, le=200)
    zone: Id | None = Field(None, description="the zone this gate leads into")
    location: LatLon | None = None


def _check(venue: Any) -> None:
    zones = {z.id for z in venue.zones}
    for i, gate in enumerate(venue.gates):
        if gate.zone is not None and gate.zone not in zones:
            raise FieldError(("gates", i, "zone"), f"{gate.zone!r} is not a zone of this venue")


def _density(subject: Subject) -> ValueFn:
    assert isinstance(subject.entity, Zone)
    area = subject.entity.area_m2

    def value(values: Mapping[str, Value], dt: float | None) -> float | None:
        occupancy = values.get("occupancy")
        return None if occupancy is None else occupancy / area

    return value


def _occupancy_pct(subject: Subject) -> ValueFn:
    assert isinstance(subject.entity, Zone)
    scale = 100.0 / subject.entity.capacity

    def value(values: Mapping[str, Value], dt: float | None) -> float | None:
        occupancy = values.get("occupancy")
        return None if occupancy is None else occupancy * scale

    return value


def _flow(subject: Subject) -> ValueFn:
    assert isinstance(subject.entity, Gate)
    width = subject.entity.width_m

    def value(values: Mapping[str, Value], dt: float | None) -> float | None:
        if not dt:
            return None
        n_in, n_out = values.get("in"), values.get("out")
        if n_in is None and n_out is None:
            return None
        return ((n_in or 0) + (n_out or 0)) * 60.0 / (width * dt)

    return value


FAMILY = Family(
    log_category="crowd",
    kind="crowd",
    model=CrowdPayload,
    sample={"ts": "2026-07-04T18:30:00Z", "occupancy": 4210, "in": 120, "out": 35},
    description="people counters at zones and gates",
    report_interval=timedelta(seconds=30),
    title=N_("Crowd"),  # translated where shown
    order=10,
    sections=(Section("zones", Zone, "zone"), Section("gates", Gate, "gate")),
    values=(
        reading_field("occupancy", "persons", {"zones"}),
        Derived(
            "density_ppm2", "persons/m²", frozenset({"zones"}), "occupancy / area_m2", _density
        ),
        Derived(
            "occupancy_pct",
            "% of capacity",
            frozenset({"zones"}),
            "occupancy / licensed capacity x 100",
            _occupancy_pct,
        ),
        Derived(
            "flow_ppmm",
            "persons/m/min",
            frozenset({"gates"}),
            "(in + out) per metre of gate width per minute since the previous report",
            _flow,
        ),
    ),
    key_fields=("occupancy", "in", "out"),
    required_field="occupancy",
    check=_check,
)
