"""Power meters on generators and distribution boards.

Derived values and why:
- load_pct = the larger of real power over rated kW (rated_kva x power_factor: the engine's
  limit) and apparent power 3 x V x I over rated kVA (the alternator's limit), when V and I
  are reported. A set is overloaded by whichever limit it reaches first.
- voltage_dev_pct, frequency_dev_pct: deviation from the generator's nominal, in %. Both are
  None while the voltage is below 10 % of nominal: that is an interruption (its own rule),
  and a dead set's "-100 %" would only duplicate it.
- voltage_pct: voltage as % of nominal (the interruption rule: below 10 %, IEEE 1159).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Literal

from pydantic import Field, model_validator

from opsroom.configfile import Strict
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
from opsroom.telemetry.base import Number, Payload, Value

INTERRUPTION_PU = 0.1  # IEEE 1159: an interruption is below 0.1 pu


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


class Generator(Strict):
    """A generator (or distribution board) with a power meter."""

    id: Id
    name: str = ""
    name_zh: NameZh = None  # the name in Chinese, shown in zh-CN when given
    rated_kva: float = Field(gt=0)
    nominal_v: float = Field(230.0, gt=0)
    nominal_hz: Literal[50, 60] = 50
    power_factor: float = Field(0.8, gt=0, le=1)
    location: LatLon | None = None


def _generator(subject: Subject) -> Generator:
    assert isinstance(subject.entity, Generator)
    return subject.entity


def _load(subject: Subject) -> ValueFn:
    gen = _generator(subject)
    per_kw = 100.0 / (gen.rated_kva * gen.power_factor)
    per_va = 100.0 / (gen.rated_kva * 1000.0 / 3.0)  # 3 phases of V x I each

    def value(values: Mapping[str, Value], dt: float | None) -> float | None:
        kw, volts, amps = values.get("power_kw"), values.get("voltage_v"), values.get("current_a")
        real = None if kw is None else abs(kw) * per_kw
        apparent = None if volts is None or amps is None else volts * amps * per_va
        if real is None:
            return apparent
        return real if apparent is None or real >= apparent else apparent

    return value


def _voltage_pct(subject: Subject) -> ValueFn:
    scale = 100.0 / _generator(subject).nominal_v

    def value(values: Mapping[str, Value], dt: float | None) -> float | None:
        volts = values.get("voltage_v")
        return None if volts is None else volts * scale

    return value


def _voltage_dev(subject: Subject) -> ValueFn:
    nominal = _generator(subject).nominal_v
    floor = INTERRUPTION_PU * nominal

    def value(values: Mapping[str, Value], dt: float | None) -> float | None:
        volts = values.get("voltage_v")
        if volts is None or volts < floor:
            return None
        return (volts - nominal) * 100.0 / nominal

    return value


def _frequency_dev(subject: Subject) -> ValueFn:
    gen = _generator(subject)
    nominal = float(gen.nominal_hz)
    floor = INTERRUPTION_PU * gen.nominal_v

    def value(values: Mapping[str, Value], dt: float | None) -> float | None:
        hz, volts = values.get("frequency_hz"), values.get("voltage_v")
        if hz is None or (volts is not None and volts < floor):
            return None
        return (hz - nominal) * 100.0 / nominal

    return value


_GEN = frozenset({"generators"})

FAMILY = Family(
    log_category="power",
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
    title=N_("Power"),  # translated where shown
    order=20,
    sections=(Section("generators", Generator, "generator"),),
    values=(
        reading_field("voltage_v", "V", {"generators"}),
        reading_field("current_a", "A", {"generators"}),
        reading_field("power_kw", "kW", {"generators"}),
        reading_field("frequency_hz", "Hz", {"generators"}),
        reading_field("fuel_pct", "%", {"generators"}),
        Derived(
            "load_pct",
            "% of rating",
            _GEN,
            "max(power_kw / (rated_kva x power_factor), 3 x voltage_v x current_a / rated_kva)"
            " x 100",
            _load,
        ),
        Derived("voltage_pct", "% of nominal", _GEN, "voltage_v / nominal_v x 100", _voltage_pct),
        Derived(
            "voltage_dev_pct",
            "% from nominal",
            _GEN,
            "(voltage_v - nominal_v) / nominal_v x 100; none during an interruption",
            _voltage_dev,
        ),
        Derived(
            "frequency_dev_pct",
            "% from nominal",
            _GEN,
            "(frequency_hz - nominal_hz) / nominal_hz x 100; none during an interruption",
            _frequency_dev,
        ),
    ),
    key_fields=("voltage_v", "frequency_hz", "power_kw"),
    required_field="voltage_v",
)
