"""The threshold levels each entity is held to, for displays that colour values by them.

The dashboard reads these so that a tile turns amber or red at the levels the rules service
fires at, per-entity overrides included. A value whose every rule is disabled for an entity
maps to no levels (the venue switched it off there), which is not the same as a value no rule
watches (absent: a display may fall back to its own defaults).
"""

from __future__ import annotations

from collections.abc import Mapping

from opsroom.venue import Venue
from rules.kinds.threshold import Level, ThresholdRule
from rules.model import RuleSet
from rules.subjects import subjects_of

Levels = Mapping[str, tuple[Level, ...]]
"""One entity's levels: derived value name -> the levels of every enabled rule watching it."""


def threshold_levels(ruleset: RuleSet, venue: Venue) -> dict[str, Levels]:
    """Each entity's threshold levels per watched value: overrides merged, disabled rules left out.

    Entities no threshold rule applies to are absent; levels of several rules watching the
    same value are joined in file order.
    """
    out: dict[str, dict[str, tuple[Level, ...]]] = {}
    for subject in subjects_of(venue).values():
        for rule in ruleset.rules:
            if not isinstance(rule, ThresholdRule) or not rule.applies(subject):
                continue
            mine = rule.for_subject(subject.id)
            levels = out.setdefault(subject.id, {})
            levels[rule.value] = levels.get(rule.value, ()) + tuple(mine.levels if mine else ())
    return dict(out)
