"""What every device model sees: the simulated clock, the scenario and the active incidents."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from opsroom.venue import Venue

if TYPE_CHECKING:  # the drill composes its incidents from the families, which import this
    from simulators.drill import Drill, Incident

DAY_S = 86_400.0


class Device(Protocol):
    """A simulated sensor: it reports values every `interval` simulated seconds."""

    kind: str
    sensor_id: str
    interval: float

    def sample(self, t: float) -> dict[str, Any]:
        """Advance the model to `t` (seconds since the drill's start) and return its values."""
        ...


def smoothstep(x: float) -> float:
    """0 below 0, 1 above 1, an S-curve in between."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    return x * x * (3 - 2 * x)


@dataclass
class World:
    """The drill's scenario, seen by the device models; all time is simulated seconds."""

    venue: Venue
    drill: Drill
    seed_root: int
    rounds: int = 1  # the drill's timeline is played this many times in a row, one world
    shared: dict[str, Any] = field(default_factory=dict)
    _incidents: dict[tuple[str, str], list[tuple[float, float, Incident]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def __post_init__(self) -> None:
        # a looping drill repeats its incidents every round; the crowd, the loads and the
        # clock of day carry on from one round into the next
        length = self.drill.duration.total_seconds()
        for k in range(self.rounds):
            for inc in self.drill.incidents:
                start = k * length + inc.at.total_seconds()
                self._incidents[(inc.type, inc.target)].append(
                    (start, start + inc.duration.total_seconds(), inc)
                )

    @classmethod
    def create(cls, venue: Venue, drill: Drill, rng: random.Random, rounds: int = 1) -> World:
        """A world whose per-device randomness all derives from `rng`."""
        return cls(venue, drill, rng.getrandbits(64), rounds)

    def rng_for(self, sensor_id: str) -> random.Random:
        """A generator of a device's own, independent of how many other devices there are."""
        return random.Random(f"{self.seed_root}:{sensor_id}")

    def active(self, incident_type: str, target: str, t: float) -> Incident | None:
        """The incident of this type on `target` in force at `t`, if any."""
        for start, end, inc in self._incidents.get((incident_type, target), ()):
            if start <= t < end:
                return inc
        return None

    def tod_hours(self, t: float) -> float:
        """The scenario's local time of day in hours at `t`."""
        s = self.drill.start
        return ((s.hour * 3600 + s.minute * 60 + s.second + t) % DAY_S) / 3600.0

    def ambient_c(self, t: float) -> float:
        """Outdoor temperature: 14 °C before dawn, 24 °C mid-afternoon."""
        return 19.0 + 5.0 * math.cos((self.tod_hours(t) - 15.0) / 24.0 * 2 * math.pi)

    def darkness(self, t: float) -> float:
        """How much of the lighting is on: 0 by day, 1 at night, ramped over dusk and dawn.

        Lights come on between 20:00 and 21:00 and go off between 05:00 and 06:00, a circuit
        at a time: switching them all at once would look like a power drop to the rules.
        """
        h = self.tod_hours(t)
        if h >= 12.0:
            return smoothstep(h - 20.0)
        return 1.0 - smoothstep(h - 5.0)
