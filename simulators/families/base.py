"""What a family's simulator part declares: its devices and the incidents it can play.

A part is `simulators/families/<kind>.py` (the kind of `opsroom/families/<kind>.py`) with
`build(world) -> list[Device]` and `INCIDENTS`, its incident types; optionally `SILENT_RULES`,
the example rules a silent device of the family fires (default `silent-device`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BeforeValidator, Field

from opsroom.configfile import Strict
from opsroom.venue import Id

if TYPE_CHECKING:
    from simulators.world import Device, World

Builder = Callable[["World"], list["Device"]]

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([hms])")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(value: object) -> object:
    """`90s`, `15m`, `1h30m` or seconds as a number -> timedelta (anything else is left as is)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        parts = _PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"not a duration: use e.g. 90s, 15m, 1h30m (got {value!r})")
        return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))
    return value


Offset = Annotated[timedelta, BeforeValidator(parse_duration), Field(ge=timedelta(0))]
Length = Annotated[timedelta, BeforeValidator(parse_duration), Field(gt=timedelta(0))]


class IncidentBase(Strict):
    """Fields every incident has; a subclass adds `type: Literal[...]` and its settings."""

    if TYPE_CHECKING:
        type: str

    at: Offset = Field(description="offset from the drill's start")
    target: Id = Field(description="the venue entity (= sensor id) it happens to")
    duration: Length = timedelta(minutes=30)
    note: str = ""


@dataclass(frozen=True)
class Expectation:
    """The alert an incident type should raise: on which family, and what condition."""

    kind: str
    alert: str
    words: tuple[str, ...]  # words a matching rule id contains
    alerting: bool = True  # False: the incident shows as dead letters, not as an alert


@dataclass(frozen=True)
class IncidentType:
    """An incident a family's devices can play, what it targets, and what it should raise.

    `rules`: the rule ids of examples/rules.yaml it should fire, by the target's subtype
    (`*` for any).
    """

    model: type[IncidentBase]
    section: str  # the venue section its target is in
    expect: Expectation
    rules: dict[str, tuple[str, ...]] = field(default_factory=dict)
    subtypes: frozenset[str] | None = None  # of the section's entities, if only some
    # (target, venue) -> other subjects its alerts may show up on (a surge's zone)
    spills_onto: Callable[[str, Any], list[str]] | None = None

    @property
    def name(self) -> str:
        """The incident's `type` in a drill file."""
        return str(self.model.model_fields["type"].annotation.__args__[0])  # type: ignore[union-attr]
