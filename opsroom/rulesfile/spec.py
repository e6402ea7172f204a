"""What every rule kind shares: the base rule model, durations, per-entity overrides, the registry.

A rule kind's settings are one pydantic model class registered with `@register`: its fields
are the rule's YAML keys. This is data only; the rules service registers an evaluator for each
kind (rules/evaluator.py `evaluates`). Adding a kind is one model in opsroom/rulesfile/kinds.py
and one evaluator module in rules/kinds/.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, ClassVar, Self, TypeVar, get_args

from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from opsroom.alerts import SEVERITIES, Severity
from opsroom.configfile import FieldError, Strict
from opsroom.families.base import NameZh
from opsroom.i18n import _, display_name
from opsroom.rulesfile.subjects import ENTITY_WORDS, Group, Subject, subjects_of
from opsroom.venue import Id, Venue

# Short enough that "<rule>.<subject>.<epoch>" fits an alert id (200 characters).
RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_:-]{0,39}$")]
SEV_INDEX: dict[str, int] = {name: i for i, name in enumerate(SEVERITIES)}
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)(h|m|s))")
_NOT_OVERRIDABLE = frozenset({"id", "kind", "applies_to", "overrides"})


def parse_seconds(value: object) -> object:
    """'90s', '15m', '2h', '1h30m' or a number of seconds -> seconds (float)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        parts = _DURATION.findall(value)
        if parts and "".join(n + u for n, u in parts) == value:
            return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
    # a FieldError at this very field keeps pydantic's "Value error, " prefix off the message
    raise FieldError((), f"a duration such as 30s, 15m, 2h or 1h30m, or seconds (got {value!r})")


Seconds = Annotated[float, BeforeValidator(parse_seconds), Field(ge=0)]


def format_seconds(seconds: float) -> str:
    """A duration for people: '45 s', '15 min', '2 h', '1 h 30 min'."""
    if seconds < 120 and seconds != 60:
        return _("{seconds} s", seconds=f"{seconds:g}")
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return _("{minutes} min", minutes=minutes)
    if not minutes:
        return _("{hours} h", hours=hours)
    return _("{hours} h {minutes} min", hours=hours, minutes=minutes)


def _as_tuple(value: object) -> object:
    return (value,) if isinstance(value, str) else value


class RuleBase(Strict):
    """Fields every rule has. Subclasses add `kind: Literal[...]` and their own settings."""

    KIND: ClassVar[str] = ""
    # groups this kind can apply to at all (None: any; threshold-like kinds check their value)
    GROUPS: ClassVar[frozenset[str] | None] = None
    # whether `inhibited_by` can hold this kind's new alerts back (not for silence watchdogs)
    INHIBITABLE: ClassVar[bool] = True

    id: RuleId
    name: str = Field("", description="label in alert messages; the id when empty")
    name_zh: NameZh = Field(None, description="the label in Chinese (OPSROOM_LOCALE zh-CN)")
    applies_to: Annotated[tuple[Group, ...], BeforeValidator(_as_tuple), Field(min_length=1)]
    enabled: bool = True
    inhibited_by: Annotated[tuple[RuleId, ...], BeforeValidator(_as_tuple)] = Field(
        (),
        description="rule ids: while one of them has an open alert on the same entity, this "
        "rule raises no new alert there (one condition, one alert: a tripped generator is an "
        "interruption, not also a voltage, frequency and power-drop alert)",
    )
    overrides: dict[Id, dict[str, Any]] = Field(
        default_factory=dict, description="per-entity settings: {entity-id: {field: value}}"
    )
    _variants: dict[str, Self] = PrivateAttr(default_factory=dict)

    @property
    def label(self) -> str:
        """The rule's name for messages, in the current language (`name_zh` in zh-CN)."""
        return display_name(self)

    def check(self) -> None:
        """Cross-field checks, run before overrides are merged; raise FieldError naming the field.

        Kinds extend this rather than adding model validators of their own, so a mistake in
        the rule itself is reported there, not at the first override that inherits it.
        """
        if self.inhibited_by and not self.INHIBITABLE:
            raise FieldError(("inhibited_by",), f"a {self.KIND} rule cannot be inhibited")
        if self.id in self.inhibited_by:
            raise FieldError(("inhibited_by",), "a rule cannot inhibit itself")
        if self.GROUPS is not None:
            bad = [g for g in self.applies_to if g not in self.GROUPS]
            if bad:
                raise FieldError(
                    ("applies_to",),
                    f"a {self.KIND} rule applies to {', '.join(sorted(self.GROUPS))}, not {bad[0]}",
                )

    def applies(self, subject: Subject) -> bool:
        """True if the rule selects this subject by one of its groups."""
        return any(g in subject.groups for g in self.applies_to)

    def for_subject(self, subject_id: str) -> Self | None:
        """The rule as it applies to one entity (its override merged), or None if disabled."""
        variant = self._variants.get(subject_id, self)
        return variant if variant.enabled else None

    @model_validator(mode="after")
    def _validate_rule(self, info: ValidationInfo) -> Self:
        self.check()
        self._variants = {sid: self._merge(sid, patch) for sid, patch in self.overrides.items()}
        venue = (info.context or {}).get("venue")
        if isinstance(venue, Venue):
            self._check_against(venue)
        return self

    def _merge(self, subject_id: str, patch: dict[str, Any]) -> Self:
        fixed = sorted(_NOT_OVERRIDABLE & patch.keys())
        if fixed:
            raise FieldError(
                ("overrides", subject_id, fixed[0]), "cannot be changed per entity (only settings)"
            )
        merged = {**self.model_dump(exclude={"overrides"}), **patch}
        try:
            return type(self).model_validate(merged)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            loc: tuple[str | int, ...] = tuple(err["loc"])
            cause = (err.get("ctx") or {}).get("error")
            msg = err["msg"].removeprefix("Value error, ")
            if isinstance(cause, FieldError):
                loc, msg = (*loc, *cause.loc), cause.message
            if err["type"] not in ("missing",) and not isinstance(err.get("input"), dict | list):
                msg += f" (got {err.get('input')!r})"
            raise FieldError(("overrides", subject_id, *loc), msg) from None

    def _check_against(self, venue: Venue) -> None:
        subjects = subjects_of(venue)
        for sid in self.overrides:
            subject = subjects.get(sid)
            if subject is None:
                continue  # another venue's entity, or a typo: a warning (unknown_overrides)
            if not self.applies(subject):
                raise FieldError(
                    ("overrides", sid),
                    f"{sid!r} is a {subject.label}, and this rule applies to "
                    f"{', '.join(self.applies_to)}",
                )

    def unknown_overrides(self, subjects: dict[str, Subject]) -> list[tuple[str, str]]:
        """(entity id, why) for each override naming an entity the venue does not have.

        Not an error: one rules file serves several venues, and from the file alone another
        venue's entity cannot be told from a typo, so the override is ignored and the warning
        suggests the nearest entity of this venue.
        """
        out = []
        for sid in self.overrides:
            if sid not in subjects:
                near = difflib.get_close_matches(sid, list(subjects), n=1, cutoff=0.8)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                out.append(
                    (
                        sid,
                        f"{sid!r} is not a {ENTITY_WORDS} of the venue{hint}; "
                        "this override is ignored",
                    )
                )
        return out


KINDS: dict[str, type[RuleBase]] = {}
R = TypeVar("R", bound=type[RuleBase])


def register(cls: R) -> R:
    """Class decorator: add a rule kind (its `kind` Literal's value) to the registry."""
    args = get_args(cls.__pydantic_fields__["kind"].annotation)
    if len(args) != 1 or not isinstance(args[0], str):
        raise TypeError(f"{cls.__name__} must declare kind: Literal['<its kind>']")
    kind = args[0]
    if kind in KINDS:
        raise ValueError(f"rule kind {kind!r} registered twice")
    cls.KIND = kind
    KINDS[kind] = cls
    return cls


def severity_index(severity: Severity) -> int:
    """Position of a severity in info < warning < critical."""
    return SEV_INDEX[severity]
