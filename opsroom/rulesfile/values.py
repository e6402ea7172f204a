"""Derived values a threshold or rate rule can watch, found by name in a registry.

Each value is a factory: given the subject (its zone area, generator rating, route...) it
returns a small function of one reading's values and the seconds since that subject's previous
reading. The function returns None when the reading does not carry what it needs: a missing
value is never taken for a normal one, so it moves no rule state.

Formulas and why:
- density_ppm2 = occupancy / area_m2 (persons per m²; HSG195, Fruin).
- occupancy_pct = occupancy / licensed capacity x 100.
- flow_ppmm = (in + out) / width_m / minutes since the previous report: both directions load
  the gate, and two-way flow through one gate is slower than the Green Guide's one-way rates,
  so counting both errs on the safe side. None for a gate's first report (no interval yet).
- load_pct = the larger of real power over rated kW (rated_kva x power_factor: the engine's
  limit) and apparent power 3 x V x I over rated kVA (the alternator's limit), when V and I
  are reported. A set is overloaded by whichever limit it reaches first.
- voltage_dev_pct, frequency_dev_pct: deviation from the generator's nominal, in %. Both are
  None while the voltage is below 10 % of nominal: that is an interruption (its own rule),
  and a dead set's "-100 %" would only duplicate it.
- voltage_pct: voltage as % of nominal (the interruption rule: below 10 %, IEEE 1159).
- over_limit_kmh: speed minus the shuttle route's speed limit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from opsroom.rulesfile.subjects import Subject
from opsroom.telemetry import Value
from opsroom.venue import Gate, Generator, Zone

ValueFn = Callable[[Mapping[str, Value], float | None], float | None]
"""(reading values, seconds since the subject's previous reading) -> the value, or None."""


@dataclass(frozen=True, slots=True)
class Derived:
    """A value rules can watch: its unit, the groups it exists for, and its factory."""

    name: str
    unit: str
    groups: frozenset[str]
    description: str
    make: Callable[[Subject], ValueFn]


VALUES: dict[str, Derived] = {}
INTERRUPTION_PU = 0.1  # IEEE 1159: an interruption is below 0.1 pu


def derived(
    name: str, unit: str, groups: set[str], description: str
) -> Callable[[Callable[[Subject], ValueFn]], Callable[[Subject], ValueFn]]:
    """Register a value factory under `name`."""

    def register(make: Callable[[Subject], ValueFn]) -> Callable[[Subject], ValueFn]:
        if name in VALUES:
            raise ValueError(f"derived value {name!r} registered twice")
        VALUES[name] = Derived(name, unit, frozenset(groups), description, make)
        return make

    return register


def _field(name: str) -> Callable[[Subject], ValueFn]:
    def make(subject: Subject) -> ValueFn:
        def value(values: Mapping[str, Value], dt: float | None) -> float | None:
            v = values.get(name)
            return None if v is None else float(v)

        return value

    return make


_CATERING = {"catering", "fridge", "freezer", "hot_holding"}
for _name, _unit, _groups in (
    ("occupancy", "persons", {"zones"}),
    ("temp_c", "°C", _CATERING),
    ("battery_pct", "%", _CATERING),
    ("voltage_v", "V", {"generators"}),
    ("current_a", "A", {"generators"}),
    ("power_kw", "kW", {"generators"}),
    ("frequency_hz", "Hz", {"generators"}),
    ("fuel_pct", "%", {"generators"}),
    ("speed_kmh", "km/h", {"shuttles"}),
    ("passengers", "persons", {"shuttles"}),
):
    derived(_name, _unit, _groups, f"the reading's {_name} field")(_field(_name))


@derived("density_ppm2", "persons/m²", {"zones"}, "occupancy / area_m2")
def _density(subject: Subject) -> ValueFn:
    assert isinstance(subject.entity, Zone)
    area = subject.entity.area_m2

    def value(values: Mapping[str, Value], dt: float | None) -> float | None:
        occupancy = values.get("occupancy")
        return None if occupancy is None else occupancy / area

    return value


@derived("occupancy_pct", "% of capacity", {"zones"}, "occupancy / licensed capacity x 100")
def _occupancy_pct(subject: Subject) -> ValueFn:
    assert isinstance(subject.entity, Zone)
    scale = 100.0 / subject.entity.capacity

    def value(values: Mapping[str, Value], dt: float | None) -> float | None:
        occupancy = values.get("occupancy")
        return None if occupancy is None else occupancy * scale

    return value


@derived(
    "flow_ppmm",
    "persons/m/min",
    {"gates"},
    "(in + out) per metre of gate width per minute since the previous report",
)
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


@derived(
    "load_pct",
    "% of rating",
    {"generators"},
    "max(power_kw / (rated_kva x power_factor), 3 x voltage_v x current_a / rated_kva) x 100",
)
def _load(subject: Subject) -> ValueFn:
    gen = subject.entity
    assert isinstance(gen, Generator)
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


def _generator(subject: Subject) -> Generator:
    assert isinstance(subject.entity, Generator)
    return subject.entity


@derived("voltage_pct", "% of nominal", {"generators"}, "voltage_v / nominal_v x 100")
def _voltage_pct(subject: Subject) -> ValueFn:
    scale = 100.0 / _generator(subject).nominal_v

    def value(values: Mapping[str, Value], dt: float | None) -> float | None:
        volts = values.get("voltage_v")
        return None if volts is None else volts * scale

    return value


@derived(
    "voltage_dev_pct",
    "% from nominal",
    {"generators"},
    "(voltage_v - nominal_v) / nominal_v x 100; none during an interruption",
)
def _voltage_dev(subject: Subject) -> ValueFn:
    nominal = _generator(subject).nominal_v
    floor = INTERRUPTION_PU * nominal

    def value(values: Mapping[str, Value], dt: float | None) -> float | None:
        volts = values.get("voltage_v")
        if volts is None or volts < floor:
            return None
        return (volts - nominal) * 100.0 / nominal

    return value


@derived(
    "frequency_dev_pct",
    "% from nominal",
    {"generators"},
    "(frequency_hz - nominal_hz) / nominal_hz x 100; none during an interruption",
)
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


@derived("over_limit_kmh", "km/h over the limit", {"shuttles"}, "speed_kmh - route speed limit")
def _over_limit(subject: Subject) -> ValueFn:
    limit = subject.route.speed_limit_kmh if subject.route is not None else None

    def value(values: Mapping[str, Value], dt: float | None) -> float | None:
        speed = values.get("speed_kmh")
        return None if speed is None or limit is None else speed - limit

    return value
