"""Power meters on generators and distribution boards."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, model_validator

from opsroom.telemetry.base import Family, Number, Payload
from opsroom.telemetry.registry import register


class PowerPayload(Payload):
    """Electrical readings of one generator or board (three-phase averages)."""

    # Bounds are what a meter on an event's supply can report, with a wide margin: medium
    # voltage feeds reach 33 kV (limit 50 kV); the largest generator sets give a few MW, a
    # few thousand A a phase (limits 100 kA and ±100 MW, negative when power flows back);
    # mains is 50/60 Hz and aircraft-style supplies 400 Hz (limit 1 kHz).
    voltage_v: Number | None = Field(None, ge=0, le=50_000)
    current_a: Number | None = Field(None, ge=0, le=100_000)
    power_kw: Number | None = Field(None, ge=-100_000, le=100_000)
    frequency_hz: Number | None = Field(None, ge=0, le=1_000)
    fuel_pct: Number | None = Field(None, ge=0, le=100)  # a percentage

    @model_validator(mode="after")
    def _has_a_measurement(self) -> PowerPayload:
        if all(
            v is None for v in (self.voltage_v, self.current_a, self.power_kw, self.frequency_hz)
        ):
            raise ValueError("needs at least one of voltage_v, current_a, power_kw, frequency_hz")
        return self


FAMILY = register(
    Family(
        kind="power",
        model=PowerPayload,
        sample={
            "ts": 1783189800,
            "voltage_v": 231.4,
            "current_a": 182.0,
            "power_kw": 121.5,
            "frequency_hz": 50.02,
            "fuel_pct": 64.0,
        },
        description="power meters on generators",
        report_interval=timedelta(seconds=10),
    )
)
