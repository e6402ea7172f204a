"""no_data: a silent device, by expected interval or by its status `offline` (last will).

Silence is judged on the event clock the engine is ticked with, never on the wall clock. It
never resolves or changes another alert: the subject keeps its alerts as they are and gets
this one beside them. The alert fires at the moment the silence became long enough (last
reading + timeout), so when it is noticed (how often the engine is ticked) does not change
it, and resolves with the first reading newer than the last one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsroom.i18n import N_, _
from opsroom.rulesfile.kinds import NoDataRule
from opsroom.rulesfile.spec import SEV_INDEX, format_seconds
from opsroom.rulesfile.subjects import Subject
from rules.evaluator import NONE, Evaluator, Watchdog, evaluates

# the entities' words (their sections' `singular`, or subtype), for the catalog: a word
# missing here reads in English
ENTITY_WORDS = (
    N_("zone"),
    N_("gate"),
    N_("generator"),
    N_("shuttle"),
    N_("catering unit"),
    N_("fridge"),
    N_("freezer"),
    N_("hot-holding unit"),
    N_("station"),
    N_("structure"),
)


@evaluates(NoDataRule)
def silence(rule: NoDataRule, subject: Subject) -> Evaluator:
    """A SilenceEvaluator with this subject's timeout: `after`, else `intervals` reports."""
    timeout = rule.after if rule.after is not None else rule.intervals * subject.report_interval_s
    return SilenceEvaluator(rule, subject, timeout)


class SilenceEvaluator(Watchdog):
    """Fired by the engine's clock (`silent`) or a status message (`went_offline`)."""

    __slots__ = ("label", "reason", "what")

    def __init__(self, rule: NoDataRule, subject: Subject, timeout: float) -> None:
        severity = SEV_INDEX[rule.severity]
        super().__init__(rule.id, subject.id, subject.kind, timeout, rule.offline, severity)
        self.label = rule.label
        self.what = subject.label
        self.reason = "silent"

    def silent(self, since: float, never: bool = False) -> None:
        """No reading since `since` for the timeout (`never`: none at all so far)."""
        super().silent(since, never)
        self.reason = "never" if never else "silent"

    def went_offline(self, ts: float) -> None:
        """The device's status turned offline at `ts`."""
        super().went_offline(ts)
        self.reason = "offline"

    def describe(self) -> str:
        """E.g. 'Silent device: no reading from this fridge for 3 min' (or 'yet', if never)."""
        what = _(self.what)  # the entity word, in the catalog through ENTITY_WORDS below
        if self.status == NONE:
            if not self.value:
                return _("{label}: data from this {what} again", label=self.label, what=what)
            gap = format_seconds(self.value)
            return _(
                "{label}: data from this {what} again, after {gap}",
                label=self.label,
                what=what,
                gap=gap,
            )
        if self.reason == "offline":
            return _("{label}: this {what}'s device reported offline", label=self.label, what=what)
        timeout = format_seconds(self.timeout)
        if self.reason == "never":
            return _(
                "{label}: no reading from this {what} yet, {timeout} after monitoring began",
                label=self.label,
                what=what,
                timeout=timeout,
            )
        return _(
            "{label}: no reading from this {what} for {timeout}",
            label=self.label,
            what=what,
            timeout=timeout,
        )

    def dump(self) -> dict[str, Any]:
        """Base state plus why it fired."""
        return {**super().dump(), "reason": self.reason}

    def load(self, state: Mapping[str, Any]) -> None:
        """Restore from `dump`."""
        reason = str(state["reason"])
        super().load(state)
        self.reason = reason
