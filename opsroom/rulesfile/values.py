"""Derived values a threshold or rate rule can watch, found by name in a registry.

Each value is a factory: given the subject (its zone area, generator rating, route...) it
returns a small function of one reading's values and the seconds since that subject's previous
reading. The function returns None when the reading does not carry what it needs: a missing
value is never taken for a normal one, so it moves no rule state.

Each family declares its own (`opsroom/families/<kind>.py`), with the formulas and why.
"""

from __future__ import annotations

from collections.abc import Callable

from opsroom.families import FAMILIES, Derived, Subject, ValueFn

__all__ = ["VALUES", "Derived", "ValueFn", "derived"]

# every family's values, in family order
VALUES: dict[str, Derived] = {}


def derived(
    name: str, unit: str, groups: set[str], description: str
) -> Callable[[Callable[[Subject], ValueFn]], Callable[[Subject], ValueFn]]:
    """Register a value factory under `name` (the families declare theirs in FAMILY.values)."""

    def register(make: Callable[[Subject], ValueFn]) -> Callable[[Subject], ValueFn]:
        if name in VALUES:
            raise ValueError(f"derived value {name!r} registered twice")
        VALUES[name] = Derived(name, unit, frozenset(groups), description, make)
        return make

    return register


for _family in FAMILIES.values():
    for _value in _family.values:
        derived(_value.name, _value.unit, set(_value.groups), _value.description)(_value.make)
