"""The rules file: the example loads against the example venue; mistakes name file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsroom.configfile import ConfigError
from opsroom.rulesfile.model import KINDS, load_rules, load_rules_text
from opsroom.rulesfile.spec import format_seconds, parse_seconds
from opsroom.rulesfile.subjects import GROUPS, subjects_of
from opsroom.venue import load_venue
from rules.engine import Engine
from tests.rules.engine_helpers import VENUE

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_RULES = ROOT / "examples" / "rules.yaml"
EXAMPLE_VENUE = ROOT / "examples" / "venue.yaml"
OTHER_VENUE = Path(__file__).with_name("other-venue.yaml")  # none of the overrides' entities


def test_example_rules_load_against_the_example_venue() -> None:
    venue = load_venue(EXAMPLE_VENUE)
    ruleset = load_rules(EXAMPLE_RULES, venue)
    assert {r.KIND for r in ruleset.rules} == set(KINDS)
    engine = Engine(ruleset, venue)
    assert engine.stats()["active"] == 0


def test_example_rules_cover_the_design_table() -> None:
    ruleset = load_rules(EXAMPLE_RULES)
    ids = {r.id for r in ruleset.rules}
    assert {
        "crowd-density",
        "zone-occupancy",
        "gate-flow",
        "power-voltage",
        "power-frequency",
        "generator-load",
        "power-interruption",
        "power-drop",
        "cold-holding",
        "freezer",
        "hot-holding",
        "danger-zone",
        "shuttle-stopped",
        "shuttle-off-route",
        "shuttle-overspeed",
        "silent-device",
        "silent-gps",
    } <= ids
    covered = {g for r in ruleset.rules for g in r.applies_to}
    assert covered >= {"zones", "gates", "generators", "fridge", "freezer", "hot_holding"}
    assert covered >= {"catering", "shuttles"}


def test_overrides_apply_to_their_entity_only() -> None:
    ruleset = load_rules(EXAMPLE_RULES, load_venue(EXAMPLE_VENUE))
    hot = ruleset.get("hot-holding")
    assert hot is not None
    fda = hot.for_subject("green-leaf-hot")
    uk = hot.for_subject("smokestack-hot")
    assert fda is not None and uk is not None
    assert [lv.below for lv in fda.levels] == [57]  # type: ignore[attr-defined]
    assert [lv.below for lv in uk.levels] == [63]  # type: ignore[attr-defined]


def test_enabled_false_switches_a_rule_off_for_one_entity() -> None:
    ruleset = load_rules_text(
        """
rules:
  - id: cold
    kind: threshold
    applies_to: fridge
    value: temp_c
    levels: [{severity: warning, above: 5, clear: 4.5}]
    overrides:
      f1: {enabled: false}
""",
        "r.yaml",
        VENUE,
    )
    engine = Engine(ruleset, VENUE)
    assert engine._by_id["f1"].evaluators == []


BASE = """\
rules:
  - id: cold
    kind: threshold
    applies_to: fridge
    value: temp_c
    hold: 15m
    levels:
      - {severity: warning, above: 5, clear: 4.5}
      - {severity: critical, above: 8, clear: 7.5}
"""

ERRORS = [
    # (what, text, line, field path, words in the message)
    ("unknown kind", BASE.replace("kind: threshold", "kind: treshold"), 3, "rules[0].kind",
     "unknown rule kind 'treshold'"),
    ("missing kind", BASE.replace("    kind: threshold\n", ""), 2, "rules[0].kind",
     "every rule needs a kind"),
    ("bad severity", BASE.replace("severity: critical", "severity: urgent"), 9,
     "rules[0].levels[1].severity", "'info', 'warning' or 'critical'"),
    ("bad duration", BASE.replace("hold: 15m", "hold: 15 mins"), 6, "rules[0].hold",
     "a duration such as 30s"),
    ("clear on the wrong side", BASE.replace("clear: 4.5", "clear: 5.5"), 8,
     "rules[0].levels[0].clear", "must be at or below above (5)"),
    ("both above and below", BASE.replace("above: 5,", "above: 5, below: 1,"), 8,
     "rules[0].levels[0]", "exactly one of above or below"),
    ("value not for the group", BASE.replace("applies_to: fridge", "applies_to: zones"), 5,
     "rules[0].value", "'temp_c' is defined for"),
    ("unknown value", BASE.replace("value: temp_c", "value: temperature"), 5, "rules[0].value",
     "unknown value 'temperature'"),
    ("unknown group", BASE.replace("applies_to: fridge", "applies_to: fridges"), 4,
     "rules[0].applies_to[0]", "'fridge'"),
    ("typo in a setting", BASE.replace("hold: 15m", "hodl: 15m"), 6, "rules[0].hodl",
     "Extra inputs are not permitted"),
    ("duplicate id", BASE + BASE.removeprefix("rules:\n"), 10, "rules[1].id",
     "already used by rules[0]"),
    ("override for an entity the rule does not apply to",
     BASE + "    overrides:\n      h1: {hold: 1h}\n", 11, "rules[0].overrides.h1",
     "'h1' is a hot-holding unit, and this rule applies to fridge"),
    ("bad value in an override", BASE + "    overrides:\n      f1: {hold: soon}\n", 11,
     "rules[0].overrides.f1.hold", "a duration such as 30s"),
    ("bad level in an override",
     BASE + "    overrides:\n      f1:\n        levels: [{severity: warning, above: 5}]\n", 12,
     "rules[0].overrides.f1.levels[0].clear", "Field required"),
    ("kind changed in an override", BASE + "    overrides:\n      f1: {kind: rate}\n", 11,
     "rules[0].overrides.f1.kind", "cannot be changed per entity"),
    ("geofence on zones", "rules:\n  - {id: g, kind: geofence, applies_to: zones}\n", 2,
     "rules[0].applies_to", "a geofence rule applies to shuttles, not zones"),
    ("rate with both change and change_pct",
     "rules:\n  - {id: d, kind: rate, applies_to: generators, value: power_kw,\n"
     "     direction: fall, change: 5, change_pct: 50, within: 10s}\n", 3, "rules[0].change",
     "exactly one of change or change_pct"),
    ("cumulative range upside down",
     "rules:\n  - {id: d, kind: cumulative, applies_to: fridge, value: temp_c, above: 60,\n"
     "     below: 5, levels: [{severity: warning, after: 2h}]}\n", 3, "rules[0].below",
     "must be greater than above"),
    ("not a list of rules", "rules: {id: x}\n", 1, "rules", "valid list"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line", "field", "words"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_errors_name_file_line_and_field(text: str, line: int, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_rules_text(text, "rules.yaml", VENUE)
    message = str(caught.value)
    assert message.startswith("rules.yaml: ")
    assert f"line {line}: {field}: " in message, message
    assert words in message, message


def test_an_override_of_an_entity_the_venue_lacks_is_a_warning_naming_line_and_entity() -> None:
    """One rules file serves several venues: another venue's entity (or a typo, which the file
    alone cannot tell apart) is ignored with a warning that suggests the nearest entity."""
    text = BASE + "    overrides:\n      f11: {hold: 1h}\n      no-such-fridge: {hold: 1h}\n"
    ruleset = load_rules_text(text, "rules.yaml", VENUE)
    assert ruleset.warnings == (
        "line 11: rules[0].overrides.f11: 'f11' is not a zone, gate, generator, catering unit, "
        "shuttle, station or structure of the venue (did you mean 'f1'?); this override is ignored",
        "line 12: rules[0].overrides.no-such-fridge: 'no-such-fridge' is not a zone, gate, "
        "generator, catering unit, shuttle, station or structure of the venue; this override is "
        "ignored",
    )
    assert load_rules_text(BASE, "rules.yaml", VENUE).warnings == ()


def test_the_example_rules_load_against_another_venue_with_a_warning_per_override() -> None:
    ruleset = load_rules(EXAMPLE_RULES, load_venue(OTHER_VENUE))
    assert [w.split(": ")[1] for w in ruleset.warnings] == [
        f"rules[{i}].overrides.{sid}"
        for i, rule in enumerate(ruleset.rules)
        for sid in rule.overrides
    ]
    assert len(ruleset.warnings) == 5
    assert not load_rules(EXAMPLE_RULES, load_venue(EXAMPLE_VENUE)).warnings


def test_without_a_venue_overrides_are_not_checked_against_one() -> None:
    text = BASE + "    overrides:\n      no-such-fridge: {hold: 1h}\n"
    assert load_rules_text(text, "rules.yaml").rules[0].for_subject("no-such-fridge") is not None


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read file"):
        load_rules(missing)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    with pytest.raises(ConfigError, match=r"empty\.yaml: file is empty"):
        load_rules(empty)
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules:\n  - {id: x, kind: threshold\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: line 2: not valid YAML"):
        load_rules(broken)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("2h", 7200), ("1h30m", 5400), ("1.5s", 1.5), (90, 90), (0, 0)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize("text", ["15 mins", "m", "", "1d", True, None, "-5s"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError, match="a duration such as"):
        parse_seconds(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (10, "10 s"),
        (60, "1 min"),
        (90, "90 s"),
        (900, "15 min"),
        (7200, "2 h"),
        (5400, "1 h 30 min"),
    ],
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


def test_every_group_selects_entities_of_the_example_venue() -> None:
    subjects = subjects_of(load_venue(EXAMPLE_VENUE)).values()
    for group in GROUPS:
        assert any(group in s.groups for s in subjects), group


def test_a_mistake_in_a_rule_is_reported_at_the_rule_not_its_override() -> None:
    text = (
        "rules:\n  - {id: d, kind: cumulative, applies_to: fridge, value: temp_c, above: 60,\n"
        "     below: 5, levels: [{severity: warning, after: 2h}], overrides: {f1: {max_gap: 1m}}}\n"
    )
    with pytest.raises(ConfigError, match=r"line 3: rules\[0\]\.below: must be greater"):
        load_rules_text(text, "rules.yaml", VENUE)
