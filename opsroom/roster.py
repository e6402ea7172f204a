"""The roster: who is on duty for the event, their role, team and how to reach them.

Alerts, incidents and plan steps are owned by a person or a team of the roster (责任落实到人:
every responsibility lands on a named person). The roster file (see examples/roster.yaml) is
validated like the venue file: an error names the file, the line and the field.

    roster = load_roster(path)
    roster.owner("amira")       -> the Person (or the Team) with that id, or None
    roster.by_role("medical-lead")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from opsroom.configfile import FieldError, Strict, load_model
from opsroom.families.base import Id

Role = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,63}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Contact = Annotated[str, StringConstraints(max_length=200, strip_whitespace=True)]


class Person(Strict):
    """Someone on the roster. `id` is what the log and the alerts name; `user` their login."""

    id: Id
    name: Name
    role: Role
    team: Id | None = None
    contact: Contact = ""  # "radio ch 4", "+44 7700 900123": shown to operators, not logged
    user: Id | None = None  # their dashboard login, if they have one


class Team(Strict):
    """A group that can own an alert or an incident as a whole (stewards north, medics)."""

    id: Id
    name: Name
    contact: Contact = ""


class Roster(Strict):
    """A roster file."""

    teams: list[Team] = Field(default_factory=list)
    people: list[Person] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Roster:
        seen: dict[str, str] = {}
        sections: tuple[tuple[str, Sequence[Person | Team]], ...] = (
            ("teams", self.teams),
            ("people", self.people),
        )
        for section, items in sections:
            for i, item in enumerate(items):
                if item.id in seen:
                    raise FieldError(
                        (section, i, "id"), f"id {item.id!r} is already used by {seen[item.id]}"
                    )
                seen[item.id] = f"{section}[{i}]"
        teams = {t.id for t in self.teams}
        for i, person in enumerate(self.people):
            if person.team is not None and person.team not in teams:
                raise FieldError(("people", i, "team"), f"no team {person.team!r} in teams:")
        return self

    def owner(self, owner_id: str) -> Person | Team | None:
        """The person or team with this id, or None."""
        people: list[Person | Team] = [*self.people, *self.teams]
        return next((item for item in people if item.id == owner_id), None)

    def by_role(self, role: str) -> list[Person]:
        """The people with this role, in file order."""
        return [p for p in self.people if p.role == role]

    def roles(self) -> set[str]:
        """Every role someone on the roster has."""
        return {p.role for p in self.people}


def load_roster(path: str | Path) -> Roster:
    """Load a roster file; ConfigError names the file, the line and the field."""
    return load_model(Roster, path)
