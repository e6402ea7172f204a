"""The plans file: the shipped plans cover every risk, and a bad file names file, line, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsroom.app.cli import main
from opsroom.configfile import ConfigError
from opsroom.controllog import CATEGORIES
from opsroom.plans import load_plans, load_plans_text
from opsroom.rulesfile.model import load_rules
from opsroom.venue import load_venue

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

GOOD = """\
plans:
  - id: freezer-failure
    name: Freezer failure
    risk: A freezer warms up.
    source: EU Directive 89/108/EEC
    owner_role: food-safety-officer
    triggers: {rules: [freezer]}
    steps:
      - {id: keep-shut, action: Keep it shut, who: vendor, due_min: 5}
"""


def shipped() -> tuple[list[str], list[str]]:
    venue = load_venue(EXAMPLES / "venue.yaml")
    rules = load_rules(EXAMPLES / "rules.yaml", venue)
    return [r.id for r in rules.rules], [e.id for _, _, items in venue.sections() for e in items]


def test_every_shipped_rule_and_incident_category_has_a_plan() -> None:
    rule_ids, entity_ids = shipped()
    plans = load_plans(EXAMPLES / "plans.yaml", rule_ids, entity_ids)
    for rule in rule_ids:
        plan = plans.for_rule(rule)
        assert plan is not None, f"rule {rule} starts no plan"
    for category in CATEGORIES:
        if category != "other":
            assert plans.for_category(category), f"no plan for {category} incidents"
    for plan in plans.plans:
        assert len(plan.source) > 20, f"{plan.id}: say where its numbers come from"
        dues = [s.due_min for s in plan.steps]
        assert dues == sorted(dues), f"{plan.id}: steps out of time order"
    freezer = plans.for_rule("freezer")
    assert freezer is not None and freezer.id == "freezer-failure"
    assert [s.id for s in freezer.steps][:2] == ["keep-shut", "move-stock"]


def test_check_config_cross_checks_plans(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["check-config", str(EXAMPLES / "venue.yaml"), "--rules", str(EXAMPLES / "rules.yaml")]
    assert main([*args, "--plans", str(EXAMPLES / "plans.yaml")]) == 0
    assert "16 plans" in capsys.readouterr().out
    bad = tmp_path / "plans.yaml"
    bad.write_text(GOOD.replace("[freezer]", "[freezer, fridge-on-fire]"))
    assert main([*args, "--plans", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: line 7: plans[0].triggers.rules[1]: no rule 'fridge-on-fire'" in err


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("due_min: 5", "due_min: -1"), "line 9: plans[0].steps[0].due_min"),
        (("due_min: 5", "due_min: 5, colour: red"), "line 9: plans[0].steps[0].colour"),
        (("who: vendor", "who: The Vendor"), "line 9: plans[0].steps[0].who"),
        (("triggers: {rules: [freezer]}", "triggers: {categories: [aliens]}"), "categories[0]"),
        (("    steps:\n", "    steps: []\n    x:\n"), "plans[0]"),
        (("    source: EU Directive 89/108/EEC\n", ""), "line 2: plans[0].source: Field required"),
    ],
)
def test_a_bad_plan_is_named_by_line_and_field(change: tuple[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_plans_text(GOOD.replace(*change), "plans.yaml", ["freezer"])
    assert expected in str(err.value)
    assert str(err.value).startswith("plans.yaml")


def test_two_plans_for_one_rule_and_duplicate_steps_are_refused() -> None:
    twice = GOOD + GOOD.split("plans:\n", 1)[1].replace("id: freezer-failure", "id: freezer-2")
    with pytest.raises(ConfigError, match="rule 'freezer' already starts plan 'freezer-failure'"):
        load_plans_text(twice, "plans.yaml")
    step = "      - {id: keep-shut, action: Keep it shut, who: vendor, due_min: 5}\n"
    with pytest.raises(ConfigError, match="step id 'keep-shut' is used twice"):
        load_plans_text(GOOD + step, "plans.yaml")


def test_a_resource_at_an_entity_the_venue_lacks_is_refused() -> None:
    text = GOOD + "    resources:\n      - {what: Spare, where: Yard, entity: no-such-place}\n"
    with pytest.raises(ConfigError, match=r"line 11: plans\[0\]\.resources\[0\]\.entity"):
        load_plans_text(text, "plans.yaml", None, ["main-arena"])
