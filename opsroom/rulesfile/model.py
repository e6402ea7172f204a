"""The rules file: a list of rules, each of a registered kind, validated against the venue.

    rules:
      - id: cold-holding                 # letters, digits, - _ : (at most 40)
        kind: threshold                  # threshold rate no_data cumulative geofence stopped
        applies_to: fridge               # zones gates generators catering fridge freezer
                                         # hot_holding shuttles all (one or a list)
        value: temp_c                    # threshold, rate, cumulative: a derived value (values.py)
        hold: 15m                        # 30s, 15m, 2h, 1h30m or seconds
        levels:
          - {severity: warning, above: 5, clear: 4.5}
          - {severity: critical, above: 8, clear: 7.5}
        overrides:                       # per entity id: any setting but id/kind/applies_to
          arena-bar-fridge: {hold: 30m}
          little-acorns-fridge: {enabled: false}

Errors name the file, the line and the field; with a venue, an override naming an entity the
rule does not apply to is an error too. An override naming an entity the venue does not have
is a warning (`RuleSet.warnings`, listed by `check-config` and logged by the rules service) and
is ignored: one rules file serves several venues, and from the file alone another venue's
entity cannot be told from a typo, so the warning names the nearest entity of the venue.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    Field,
    PlainValidator,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    model_validator,
)

import opsroom.rulesfile.kinds  # noqa: F401  (registers the rule kinds)
from opsroom.configfile import (
    ConfigError,
    FieldError,
    Strict,
    locate,
    parse_yaml,
    validation_problems,
)
from opsroom.rulesfile.spec import KINDS, RuleBase
from opsroom.rulesfile.subjects import subjects_of
from opsroom.shipped import examples_dir
from opsroom.venue import Venue

__all__ = [
    "KINDS",
    "SHIPPED_RULES",
    "RuleBase",
    "RuleSet",
    "load_rules",
    "load_rules_text",
    "shipped_rules",
]

SHIPPED_RULES = examples_dir() / "rules.yaml"
"""The rules file Opsroom ships (package data, see opsroom/shipped.py): the defaults every venue
starts with, each with its source. The services are given their own rules file."""


def _rule(item: Any, info: ValidationInfo) -> RuleBase:
    """Pick the rule's kind from the registry and validate the item as that kind."""
    if isinstance(item, RuleBase):
        return item
    if not isinstance(item, dict):
        raise ValueError("a rule is a mapping with at least id, kind and applies_to")
    known = ", ".join(sorted(KINDS))
    kind = item.get("kind")
    if kind is None:
        raise FieldError(("kind",), f"missing: every rule needs a kind ({known})")
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise FieldError(("kind",), f"unknown rule kind {kind!r} (known: {known})")
    return model.model_validate(item, context=info.context)


class RuleSet(Strict):
    """Every rule of an event, in file order (which is also evaluation order)."""

    rules: list[Annotated[RuleBase, PlainValidator(_rule)]] = Field(default_factory=list)
    _warnings: tuple[str, ...] = PrivateAttr(())

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the check against a venue found that does not stop the rules: 'line N:
        rules[i].overrides.ID: why' for each override naming an entity the venue lacks."""
        return self._warnings

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        seen: dict[str, int] = {}
        for i, rule in enumerate(self.rules):
            if rule.id in seen:
                raise FieldError(
                    ("rules", i, "id"),
                    f"rule id {rule.id!r} is already used by rules[{seen[rule.id]}]",
                )
            seen[rule.id] = i
        for i, rule in enumerate(self.rules):
            checks: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
                (("inhibited_by",), rule.inhibited_by)
            ]
            for sid in rule.overrides:
                variant = rule.for_subject(sid)
                if variant is not None:
                    checks.append((("overrides", sid, "inhibited_by"), variant.inhibited_by))
            for loc, ids in checks:
                unknown = [x for x in ids if x not in seen]
                if unknown:
                    raise FieldError(
                        ("rules", i, *loc),
                        f"no rule has the id {unknown[0]!r} (rules: {', '.join(seen)})",
                    )
        return self

    def get(self, rule_id: str) -> RuleBase | None:
        """The rule with this id."""
        return next((r for r in self.rules if r.id == rule_id), None)


def load_rules_text(text: str, source: str, venue: Venue | None = None) -> RuleSet:
    """Validate rules YAML text; ConfigError names `source`, the line and the field."""
    data, lines = parse_yaml(text, source)
    if data is None:
        raise ConfigError(source, ["file is empty"])
    try:
        ruleset = RuleSet.model_validate(data, context={"venue": venue})
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc, lines)) from exc
    if venue is not None:
        subjects = subjects_of(venue)
        ruleset._warnings = tuple(
            f"{locate(('rules', i, 'overrides', sid), lines)}: {why}"
            for i, rule in enumerate(ruleset.rules)
            for sid, why in rule.unknown_overrides(subjects)
        )
    return ruleset


def load_rules(path: str | Path, venue: Venue | None = None) -> RuleSet:
    """Load a rules file; with a venue, overrides must name entities the rule applies to
    (those naming entities the venue lacks are `warnings`)."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, [f"cannot read file: {exc.strerror or exc}"]) from exc
    return load_rules_text(text, source, venue)


@cache
def shipped_rules() -> RuleSet:
    """The shipped rules file (SHIPPED_RULES), loaded once; ConfigError if missing or invalid."""
    return load_rules(SHIPPED_RULES)
