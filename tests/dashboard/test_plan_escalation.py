"""A plan whose steps are still open at its escalation time says so, in red, naming whom to
call in (from the roster), on the wall screen's panel and the alert's plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from dashboard.plans import OVERDUE_COLOUR, PANEL_MAX, needing_action, steps_html
from opsroom.planrun import activation, runs, step_entry
from opsroom.plans import load_plans
from opsroom.roster import load_roster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
T0 = datetime(2026, 7, 4, 14, 0, tzinfo=UTC)


def html_at(minutes: float, ticked: tuple[str, ...] = ()) -> str:
    plans = load_plans(EXAMPLES / "plans.yaml")
    plan = plans.get("freezer-failure")
    assert plan is not None
    entries = [activation(plan, T0, author="rules", category="food_safety", alert_id="fz.1")]
    for step in ticked:
        run = runs(entries, plans, T0)[0]
        entries.append(step_entry(run, step, author="ana", at=T0 + timedelta(minutes=10)))
    (run,) = runs(entries, plans, T0 + timedelta(minutes=minutes))
    return steps_html(run, "UTC", load_roster(EXAMPLES / "roster.yaml"))


def test_steps_open_at_45_min_call_in_the_event_safety_manager_by_name() -> None:
    page = html_at(46, ticked=("keep-shut",))
    assert 'class="ops-plan-escalate" data-escalate-to="event-safety-manager"' in page
    assert f"color:{OVERDUE_COLOUR}" in page.split('class="ops-plan-escalate"')[1]
    assert (
        "ESCALATE: 3 steps still open 45 min after activation (since 14:45:00): "
        "call in event-safety-manager (Li Wei (李伟))"
    ) in page


def test_no_escalation_line_before_its_time_or_once_every_step_is_done() -> None:
    assert "ops-plan-escalate" not in html_at(44)
    every = ("keep-shut", "move-stock", "check-thaw", "engineer")
    assert "ops-plan-escalate" not in html_at(60, ticked=every)


def test_a_burst_of_new_runs_does_not_push_an_escalation_off_the_wall_screen() -> None:
    plans = load_plans(EXAMPLES / "plans.yaml")
    warm, silent = plans.get("chilled-food-warm"), plans.get("sensor-silent")
    assert warm is not None and silent is not None
    # a fridge's plan 40 min old (it escalates after 30), then 44 devices that never reported
    entries = [activation(warm, T0, author="rules", category="food_safety", alert_id="f.1")]
    entries += [
        activation(silent, T0 + timedelta(minutes=39, seconds=i), author="rules",
                   category="communications", alert_id=f"silent.{i}")
        for i in range(44)
    ]  # fmt: skip
    listed = needing_action(runs(entries, plans, T0 + timedelta(minutes=40)))
    assert len(listed) == 45  # the heading counts every run, not the PANEL_MAX listed
    assert listed[0].alert_id == "f.1" and listed[0].escalation_due
    assert listed[0] in listed[:PANEL_MAX]
    # the rest newest first
    assert [r.alert_id for r in listed[1:3]] == ["silent.43", "silent.42"]
