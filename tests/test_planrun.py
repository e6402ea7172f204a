"""Plan runs folded from control log entries, on a pinned event clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsroom.controllog import LogEntry, LogError, new_entry
from opsroom.controllog.model import KINDS
from opsroom.planrun import activation, runs, step_entry
from opsroom.plans import PlanSet, load_plans

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
T0 = datetime(2026, 7, 4, 14, 0, tzinfo=UTC)
WALL = datetime(2026, 7, 4, 15, 0, tzinfo=UTC)


def clock() -> datetime:
    return WALL


@pytest.fixture(scope="module")
def plans() -> PlanSet:
    return load_plans(EXAMPLES / "plans.yaml")


def started(plans: PlanSet) -> LogEntry:
    plan = plans.get("freezer-failure")
    assert plan is not None
    return activation(
        plan,
        T0,
        author="rules",
        category="food_safety",
        alert_id="freezer:fr-1",
        key="freezer:fr-1/plan/freezer-failure",
        clock=clock,
    )


def tick(plans: PlanSet, entries: list[LogEntry], step: str, minutes: float) -> LogEntry:
    run = runs(entries, plans, T0)[0]
    return step_entry(run, step, author="ana", at=T0 + timedelta(minutes=minutes), clock=clock)


def test_the_new_kinds_are_kinds() -> None:
    assert {"plan_activated", "plan_step"} <= set(KINDS)


def test_activation_lists_every_step_due_time(plans: PlanSet) -> None:
    entry = started(plans)
    assert entry.kind == "plan_activated" and entry.plan_id == "freezer-failure"
    assert entry.alert_id == "freezer:fr-1"
    assert entry.steps_due == {
        "keep-shut": T0 + timedelta(minutes=5),
        "move-stock": T0 + timedelta(minutes=20),
        "check-thaw": T0 + timedelta(minutes=30),
        "engineer": T0 + timedelta(minutes=30),
    }
    assert entry.id == started(plans).id  # fixed by the key: a restart writes the same entry
    assert "Freezer failure" in entry.text


@pytest.mark.parametrize(
    ("ticks", "now_min", "want"),
    [
        # nothing ticked, 3 min in: all open
        ((), 3, {"keep-shut": "open", "move-stock": "open"}),
        # nothing ticked, 6 min in: the 5-minute step is overdue
        ((), 6, {"keep-shut": "overdue", "move-stock": "open"}),
        # keep-shut at 4 min (on time), move-stock at 25 (late), 40 min in: the rest overdue
        (
            (("keep-shut", 4), ("move-stock", 25)),
            40,
            {"keep-shut": "done", "move-stock": "late", "check-thaw": "overdue"},
        ),
        # ticked exactly at its due time is on time
        ((("keep-shut", 5),), 10, {"keep-shut": "done"}),
    ],
)
def test_step_states_on_a_pinned_clock(
    plans: PlanSet, ticks: tuple[tuple[str, float], ...], now_min: float, want: dict[str, str]
) -> None:
    entries = [started(plans)]
    for step, minutes in ticks:
        entries.append(tick(plans, entries, step, minutes))
    (run,) = runs(entries, plans, T0 + timedelta(minutes=now_min))
    states = {s.step_id: s.state for s in run.steps}
    assert {k: states[k] for k in want} == want


def test_done_keeps_who_and_when_and_the_first_tick_counts(plans: PlanSet) -> None:
    entries = [started(plans)]
    entries.append(tick(plans, entries, "keep-shut", 2))
    entries.append(tick(plans, entries, "keep-shut", 9))  # a second tick changes nothing
    (run,) = runs(entries, plans, T0 + timedelta(minutes=10))
    step = run.steps[0]
    assert (step.state, step.done_by, step.done_at) == ("done", "ana", T0 + timedelta(minutes=2))
    assert step.action.startswith("Tell the vendor") and step.who == "control-operator"
    assert run.last_done_at == T0 + timedelta(minutes=2)
    assert not run.complete and run.count("done") == 1


def test_a_corrected_tick_is_withdrawn(plans: PlanSet) -> None:
    entries = [started(plans)]
    entries.append(tick(plans, entries, "keep-shut", 2))
    entries.append(
        new_entry(
            author="ana",
            category="food_safety",
            text="ticked by mistake",
            kind="correction",
            corrects=entries[-1].id,
            clock=clock,
        )
    )
    (run,) = runs(entries, plans, T0 + timedelta(minutes=6))
    assert run.steps[0].state == "overdue"


def test_missed_steps_stay_missed_after_the_alert_resolved(plans: PlanSet) -> None:
    # an alert's resolution is an alert entry: it does not touch the run
    entries = [started(plans)]
    entries.append(tick(plans, entries, "keep-shut", 3))
    (run,) = runs(entries, plans, T0 + timedelta(hours=2))
    assert [s.state for s in run.steps] == ["done", "overdue", "overdue", "overdue"]
    assert len(run.overdue) == 3


def test_a_scripted_tick_without_activation_id_joins_the_newest_run(plans: PlanSet) -> None:
    entries = [started(plans)]
    scripted = new_entry(
        author="drill-operator",
        category="food_safety",
        text="step",
        kind="plan_step",
        plan_id="freezer-failure",
        step_id="move-stock",
        event_ts=T0 + timedelta(minutes=12),
        clock=clock,
    )
    (run,) = runs([*entries, scripted], plans, T0 + timedelta(minutes=13))
    assert run.steps[1].state == "done" and run.steps[1].done_by == "drill-operator"


def test_bad_plan_entries_are_refused_by_name(plans: PlanSet) -> None:
    with pytest.raises(LogError, match="plan_step entry needs step_id"):
        new_entry(author="a", category="other", text="x", kind="plan_step", plan_id="p")
    with pytest.raises(LogError, match=r"plan_activated entry needs .*steps_due"):
        new_entry(author="a", category="other", text="x", kind="plan_activated", plan_id="p")
    with pytest.raises(LogError, match="plan_id 'no/slash' is not a plan"):
        new_entry(
            author="a",
            category="other",
            text="x",
            kind="plan_step",
            plan_id="no/slash",
            step_id="s",
        )
    (run,) = runs([started(plans)], plans, T0)
    with pytest.raises(LogError, match="no step 'nope'"):
        step_entry(run, "nope", author="a", at=T0)


def test_a_run_outlives_its_plan_file(plans: PlanSet) -> None:
    (run,) = runs([started(plans)], None, T0 + timedelta(minutes=6))
    assert run.name == "freezer-failure"
    assert [s.step_id for s in run.steps][:1] == ["keep-shut"]
    assert run.steps[0].state == "overdue"


@pytest.mark.parametrize(
    ("ticked", "now_min", "due"),
    [
        ((), 44, False),  # the freezer plan escalates 45 min after activation
        ((), 45, True),  # steps still open at 45 min: call in the role
        (("keep-shut", "move-stock", "check-thaw"), 50, True),  # one step open is enough
        (("keep-shut", "move-stock", "check-thaw", "engineer"), 50, False),  # all done
    ],
)
def test_a_plan_with_steps_open_at_its_escalation_time_is_due_to_escalate(
    plans: PlanSet, ticked: tuple[str, ...], now_min: float, due: bool
) -> None:
    entries = [started(plans)]
    for step in ticked:
        entries.append(tick(plans, entries, step, 40))
    (run,) = runs(entries, plans, T0 + timedelta(minutes=now_min))
    assert (run.escalate_at, run.escalate_to) == (
        T0 + timedelta(minutes=45),
        "event-safety-manager",
    )
    assert run.escalation_due is due
