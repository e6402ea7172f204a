"""The levels each entity is held to: overrides merged, disabled rules left out."""

from __future__ import annotations

from opsroom.families.coldchain import CateringUnit
from opsroom.rulesfile.bands import threshold_levels, time_in_range
from opsroom.rulesfile.model import load_rules_text
from tests.rules.engine_helpers import VENUE

# the test venue plus two more fridges, so one rule can treat three fridges three ways
FRIDGES = VENUE.model_copy(
    update={
        "catering": [
            *VENUE.catering,
            CateringUnit(id="f2", type="fridge"),
            CateringUnit(id="f3", type="fridge"),
        ]
    }
)

RULES = """\
rules:
  - id: cold
    kind: threshold
    applies_to: fridge
    value: temp_c
    hold: 15m
    levels:
      - {severity: warning, above: 5, clear: 4.5}
      - {severity: critical, above: 8, clear: 7.5}
    overrides:
      f2:
        levels: [{severity: critical, above: 10, clear: 9}]
      f3: {enabled: false}
  - id: occupancy
    kind: threshold
    applies_to: zones
    value: occupancy_pct
    levels: [{severity: warning, above: 85, clear: 82}]
  - id: crush
    kind: threshold
    applies_to: zones
    value: occupancy_pct
    levels: [{severity: critical, above: 95, clear: 92}]
  - id: danger
    kind: cumulative
    applies_to: catering
    value: temp_c
    above: 5
    below: 60
    levels: [{severity: warning, after: 2h}]
    overrides:
      f2: {above: 8}
      h1: {enabled: false}
  - id: silent
    kind: no_data
    applies_to: all
    intervals: 3
    severity: warning
"""


def _levels(levels: object) -> list[tuple[str, float | None, float | None]]:
    assert isinstance(levels, tuple)
    return [(lv.severity, lv.above, lv.below) for lv in levels]


def test_each_entity_gets_its_rules_levels_with_its_override_merged() -> None:
    got = threshold_levels(load_rules_text(RULES, "r.yaml", FRIDGES), FRIDGES)
    assert _levels(got["f1"]["temp_c"]) == [("warning", 5, None), ("critical", 8, None)]
    assert _levels(got["f2"]["temp_c"]) == [("critical", 10, None)]


def test_a_disabled_rule_leaves_its_value_watched_with_no_levels() -> None:
    got = threshold_levels(load_rules_text(RULES, "r.yaml", FRIDGES), FRIDGES)
    assert got["f3"] == {"temp_c": ()}


def test_rules_watching_the_same_value_are_joined_in_file_order() -> None:
    got = threshold_levels(load_rules_text(RULES, "r.yaml", FRIDGES), FRIDGES)
    assert _levels(got["z1"]["occupancy_pct"]) == [("warning", 85, None), ("critical", 95, None)]


def test_entities_without_threshold_rules_are_absent() -> None:
    got = threshold_levels(load_rules_text(RULES, "r.yaml", FRIDGES), FRIDGES)
    assert not {"fz1", "g1", "gen1", "h1"} & got.keys()  # h1, fz1: a cumulative rule only
    assert set(got) == {"f1", "f2", "f3", "z1"}


def test_cumulative_rules_per_entity_with_overrides_merged() -> None:
    got = time_in_range(load_rules_text(RULES, "r.yaml", FRIDGES), FRIDGES)
    assert [(r.above, r.below) for r in got["f1"]["temp_c"]] == [(5, 60)]
    assert [(r.above, r.below) for r in got["f2"]["temp_c"]] == [(8, 60)]
    assert got["h1"] == {"temp_c": ()}
    assert set(got) == {"f1", "f2", "f3", "fz1", "h1"}
