"""Contingency plans (应急预案): for each risk, what the ops room does, who does it, by when.

The plans file (see examples/plans.yaml) is validated like the venue and rules files: an error
names the file, the line and the field. With the rules and the venue at hand
(`opsroom check-config`), every rule a plan names must exist, a rule may start one plan only,
and a resource placed at a venue entity must name one the venue has.

    plans = load_plans(path, ruleset=ruleset, venue=venue)
    plans.for_rule("cold-holding")        -> the Plan a firing alert of that rule activates
    plans.for_category("medical")         -> the Plans a control-log incident can activate

A plan's step `due_min` is its target time from activation. Escalation (`escalate`) says
whom to tell, and after how long, when the plan's steps are not done.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

from pydantic import Field, StringConstraints, ValidationError, model_validator

from opsroom.configfile import (
    ConfigError,
    FieldError,
    PathKey,
    Strict,
    locate,
    parse_yaml,
    validation_problems,
)
from opsroom.controllog.model import Category
from opsroom.families.base import Id, LatLon, NameZh

# incident categories: the control log's

Role = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,63}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
MAX_DUE_MIN = 24 * 60


class Step(Strict):
    """One thing to do: the action, the role that does it, its target time from activation."""

    id: Id
    action: Text
    who: Role
    due_min: float = Field(ge=0, le=MAX_DUE_MIN)


class Contact(Strict):
    """Whom to tell or call: a role, and how to reach them (names live in the roster)."""

    role: Role
    how: Text  # "radio channel 3", "phone: see roster", ...


class Resource(Strict):
    """Something the plan uses and where it is: a spare freezer, a standby generator."""

    what: Text
    where: Text
    entity: Id | None = None  # a venue entity it is at or near, if any
    location: LatLon | None = None


class Trigger(Strict):
    """What activates the plan: alerts of these rules, incidents of these categories, a person."""

    rules: list[Id] = Field(default_factory=list)
    categories: list[Category] = Field(default_factory=list)
    manual: bool = True  # an operator may always start it by hand


class Escalation(Strict):
    """Whom to tell when the plan's steps are not all done `after_min` after activation."""

    after_min: float = Field(gt=0, le=MAX_DUE_MIN)
    to: Role


class Plan(Strict):
    """One risk's plan."""

    id: Id
    name: Text
    name_zh: NameZh = None  # the name in Chinese, shown in zh-CN when given
    risk: Text  # what goes wrong, in a sentence
    source: Text  # where the plan's numbers come from
    owner_role: Role
    triggers: Trigger
    steps: list[Step] = Field(min_length=1)
    contacts: list[Contact] = Field(default_factory=list)
    resources: list[Resource] = Field(default_factory=list)
    escalate: Escalation | None = None

    @model_validator(mode="after")
    def _unique_steps(self) -> Plan:
        seen: set[str] = set()
        for i, step in enumerate(self.steps):
            if step.id in seen:
                raise FieldError(("steps", i, "id"), f"step id {step.id!r} is used twice")
            seen.add(step.id)
        return self


class PlanSet(Strict):
    """A plans file."""

    plans: list[Plan] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> PlanSet:
        seen: dict[str, int] = {}
        starts: dict[str, str] = {}
        for i, plan in enumerate(self.plans):
            if plan.id in seen:
                raise FieldError(("plans", i, "id"), f"plan id {plan.id!r} is used twice")
            seen[plan.id] = i
            for j, rule in enumerate(plan.triggers.rules):
                if rule in starts:
                    raise FieldError(
                        ("plans", i, "triggers", "rules", j),
                        f"rule {rule!r} already starts plan {starts[rule]!r}: one plan per rule",
                    )
                starts[rule] = plan.id
        return self

    def get(self, plan_id: str) -> Plan | None:
        """The plan with this id, or None."""
        return next((p for p in self.plans if p.id == plan_id), None)

    def for_rule(self, rule_id: str) -> Plan | None:
        """The plan a firing alert of `rule_id` activates, or None."""
        return next((p for p in self.plans if rule_id in p.triggers.rules), None)

    def for_category(self, category: str) -> list[Plan]:
        """The plans an incident of `category` can activate."""
        return [p for p in self.plans if category in p.triggers.categories]


def _cross_check(
    plans: PlanSet, rule_ids: Iterable[str] | None, entity_ids: Iterable[str] | None
) -> list[tuple[PathKey, str]]:
    problems: list[tuple[PathKey, str]] = []
    if rule_ids is not None:
        known = set(rule_ids)
        for i, plan in enumerate(plans.plans):
            for j, rule in enumerate(plan.triggers.rules):
                if rule not in known:
                    loc: PathKey = ("plans", i, "triggers", "rules", j)
                    problems.append((loc, f"no rule {rule!r} in the rules file"))
    if entity_ids is not None:
        known = set(entity_ids)
        for i, plan in enumerate(plans.plans):
            for j, res in enumerate(plan.resources):
                if res.entity is not None and res.entity not in known:
                    problems.append(
                        (("plans", i, "resources", j, "entity"), f"no {res.entity!r} in the venue")
                    )
    return problems


def load_plans_text(
    text: str,
    source: str,
    rule_ids: Iterable[str] | None = None,
    entity_ids: Iterable[str] | None = None,
) -> PlanSet:
    """Validate plans YAML text (against rule ids and venue entity ids when given)."""
    data, lines = parse_yaml(text, source)
    if data is None:
        raise ConfigError(source, ["file is empty"])
    try:
        plans = PlanSet.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc, lines)) from exc
    problems = _cross_check(plans, rule_ids, entity_ids)
    if problems:
        raise ConfigError(source, [f"{locate(loc, lines)}: {why}" for loc, why in problems])
    return plans


def load_plans(
    path: str | Path,
    rule_ids: Iterable[str] | None = None,
    entity_ids: Iterable[str] | None = None,
) -> PlanSet:
    """Load a plans file; ConfigError names the file, the line and the field."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, [f"cannot read file: {exc.strerror or exc}"]) from exc
    return load_plans_text(text, source, rule_ids, entity_ids)
