"""The levels each entity is held to, for displays that colour values by them.

The dashboard reads these so that a tile turns amber or red at the levels the rules service
fires at, per-entity overrides included. A value whose every rule is disabled for an entity
maps to nothing (the venue switched it off there), which is not the same as a value no rule
watches (absent: a display falls back to the defaults). The defaults are the shipped rules
file's own levels (`base_levels` of `shipped_rules()`), so they are written once, there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from opsroom.rulesfile.kinds import CumulativeRule, Level, ThresholdRule
from opsroom.rulesfile.model import RuleSet
from opsroom.rulesfile.subjects import subjects_of
from opsroom.venue import Venue

Levels = Mapping[str, tuple[Level, ...]]
"""One entity's levels: derived value name -> the levels of every enabled rule watching it."""
TimeInRange = Mapping[str, tuple[CumulativeRule, ...]]
"""One entity's cumulative rules (overrides merged): value name -> every enabled one."""

R = TypeVar("R", ThresholdRule, CumulativeRule)
T = TypeVar("T")


def _per_entity(
    ruleset: RuleSet, venue: Venue, kind: type[R], take: Callable[[R], tuple[T, ...]]
) -> dict[str, Mapping[str, tuple[T, ...]]]:
    out: dict[str, dict[str, tuple[T, ...]]] = {}
    for subject in subjects_of(venue).values():
        for rule in ruleset.rules:
            if not isinstance(rule, kind) or not rule.applies(subject):
                continue
            mine = rule.for_subject(subject.id)
            watched = out.setdefault(subject.id, {})
            watched[rule.value] = watched.get(rule.value, ()) + (take(mine) if mine else ())
    return dict(out)


def threshold_levels(ruleset: RuleSet, venue: Venue) -> dict[str, Levels]:
    """Each entity's threshold levels per watched value: overrides merged, disabled rules left out.

    Entities no threshold rule applies to are absent; levels of several rules watching the
    same value are joined in file order.
    """
    return _per_entity(ruleset, venue, ThresholdRule, lambda rule: tuple(rule.levels))


def time_in_range(ruleset: RuleSet, venue: Venue) -> dict[str, TimeInRange]:
    """Each entity's cumulative rules per watched value, as threshold_levels gives levels."""
    return _per_entity(ruleset, venue, CumulativeRule, lambda rule: (rule,))


def _base(
    ruleset: RuleSet, groups: frozenset[str], kind: type[R], take: Callable[[R], tuple[T, ...]]
) -> dict[str, tuple[T, ...]]:
    out: dict[str, tuple[T, ...]] = {}
    for rule in ruleset.rules:
        if isinstance(rule, kind) and any(g in groups for g in rule.applies_to):
            out[rule.value] = out.get(rule.value, ()) + (take(rule) if rule.enabled else ())
    return out


def base_levels(ruleset: RuleSet, groups: frozenset[str]) -> Levels:
    """The threshold levels an entity of these groups starts with: no per-entity override."""
    return _base(ruleset, groups, ThresholdRule, lambda rule: tuple(rule.levels))


def base_time_in_range(ruleset: RuleSet, groups: frozenset[str]) -> TimeInRange:
    """The cumulative rules an entity of these groups starts with, as base_levels."""
    return _base(ruleset, groups, CumulativeRule, lambda rule: (rule,))
