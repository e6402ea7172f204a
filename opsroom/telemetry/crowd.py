"""Crowd counters at zones and gates: occupancy and/or in/out counts since the last report."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, model_validator

from opsroom.telemetry.base import Count, Family, Payload
from opsroom.telemetry.registry import register


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


FAMILY = register(
    Family(
        kind="crowd",
        model=CrowdPayload,
        sample={"ts": "2026-07-04T18:30:00Z", "occupancy": 4210, "in": 120, "out": 35},
        description="people counters at zones and gates",
        report_interval=timedelta(seconds=30),
    )
)
