"""Contingency plans on the dashboard: an alert's plan with who does what by when, ticking a
step (a `plan_step` control log entry signed by the login, and an audit entry), activating a
plan by hand or from an incident, and the "plans in progress" panel of the Overview.

Nothing here keeps state: a run is a fold of the control log (opsroom.planrun) on the event's
clock: the wall clock for live runs, the drill's clock (its newest reading) for drill runs, so
a drill played at 60x does not see every step overdue at once.
"""

from __future__ import annotations

import html
import os
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import streamlit as st

from dashboard import auth, cache, queries, ui
from dashboard.lang import _
from opsroom.configfile import ConfigError
from opsroom.controllog import LogEntry, LogError
from opsroom.controllog.model import category_of
from opsroom.controllog.record import record
from opsroom.planrun import PlanRun, activation, runs, step_entry
from opsroom.plans import Plan, PlanSet, load_plans
from opsroom.roster import Roster, load_roster
from opsroom.store import StoreError

PLAN_KINDS = frozenset({"plan_activated", "plan_step", "correction"})
OVERDUE_COLOUR = "#c62828"
PANEL_MAX = 8  # runs the Overview panel lists


@st.cache_resource(show_spinner=False)
def _plans(path: str, mtime: float) -> PlanSet:
    return load_plans(path)


@st.cache_resource(show_spinner=False)
def _roster(path: str, mtime: float) -> Roster:
    return load_roster(path)


def plan_set(ctx: ui.Context) -> PlanSet | None:
    """The plans file (OPSROOM_PLANS), reloaded when it changes; None without one."""
    path = ctx.settings.plans
    if path is None:
        return None
    try:
        return _plans(str(path), os.stat(path).st_mtime)
    except (OSError, ConfigError) as exc:
        st.warning(_("Cannot load the plans file: {error}", error=exc))
        return None


def roster(ctx: ui.Context) -> Roster | None:
    """The roster (OPSROOM_ROSTER): who holds each role; None without one."""
    path = ctx.settings.roster
    if path is None:
        return None
    try:
        return _roster(str(path), os.stat(path).st_mtime)
    except (OSError, ConfigError) as exc:
        st.warning(_("Cannot load the roster: {error}", error=exc))
        return None


def plan_entries(store_url: str, now_s: float) -> list[LogEntry]:
    """Every plan entry of the event (and the corrections that may withdraw a tick)."""

    def compute(now: datetime) -> list[LogEntry]:
        return [e for e in cache.store(store_url).log_entries() if e.kind in PLAN_KINDS]

    return cache.LOG_SNAPSHOTS.take(("plan_entries", store_url), now_s, compute)


def drill_clock(ctx: ui.Context, now_s: float) -> datetime | None:
    """The drill's clock: its newest reading, when the newest data is a drill's."""
    age = cache.data_age(
        ctx.store_url, ctx.venue_path, ctx.venue_mtime, tuple(queries.FAMILY_LABELS), now_s,
        ctx.settings.dashboard_stale_s,
    )  # fmt: skip
    return age.newest if age.drill and age.newest is not None else None


def clock_for(ctx: ui.Context, drill: bool, now_s: float) -> datetime:
    """Event time now: the drill's clock for a drill run, else the wall clock."""
    wall = datetime.fromtimestamp(now_s, UTC)
    return (drill_clock(ctx, now_s) or wall) if drill else wall


def all_runs(ctx: ui.Context, now_s: float) -> list[PlanRun]:
    """Every plan run of the event, newest first, each on its own clock (live or drill)."""
    entries = plan_entries(ctx.store_url, now_s)
    plans = plan_set(ctx)
    out: list[PlanRun] = []
    for drill in (False, True):
        mine = [e for e in entries if e.drill == drill]
        if mine:
            out += runs(mine, plans, clock_for(ctx, drill, now_s))
    return sorted(out, key=lambda r: r.activated_at, reverse=True)


def _when(ts: datetime, tz: str) -> str:
    return ts.astimezone(ZoneInfo(tz)).strftime("%H:%M:%S")


def state_text(state: str) -> str:
    """A step's state in words (in the page's language)."""
    return {"done": _("done"), "late": _("done late"), "overdue": _("OVERDUE")}.get(state) or _(
        "due"
    )


def _role(role: str, people: Roster | None) -> str:
    """`role (the names of who holds it on the roster)`."""
    names = [p.name for p in people.by_role(role)] if people is not None and role else []
    return role + (f" ({', '.join(names)})" if names else "")


def escalation_html(run: PlanRun, tz: str, people: Roster | None) -> str:
    """The red line of a run whose steps are still open at its plan's escalation time."""
    if not run.escalation_due or run.escalate_at is None or run.escalate_to is None:
        return ""
    minutes = (run.escalate_at - run.activated_at).total_seconds() / 60
    text = _(
        "ESCALATE: {n} steps still open {minutes} min after activation (since {at}): call in {who}",
        n=sum(1 for s in run.steps if not s.ticked),
        minutes=f"{minutes:g}",
        at=_when(run.escalate_at, tz),
        who=_role(run.escalate_to, people),
    )
    return (
        f'<p class="ops-plan-escalate" data-escalate-to="{html.escape(run.escalate_to)}" '
        f'style="color:{OVERDUE_COLOUR};font-weight:bold">{html.escape(text)}</p>'
    )


def steps_html(run: PlanRun, tz: str, people: Roster | None) -> str:
    """A run's steps as an HTML list, every text escaped: `<li class="ops-step
    ops-step-<state>" data-step-id=... data-state=...>`; an overdue step in red, and the
    escalation line when the plan's steps are still open at its escalation time."""
    items = []
    for s in run.steps:
        who = _role(s.who, people)
        if s.done_at is not None:
            state = _("{state} by {who} at {at}", state=state_text(s.state),
                      who=s.done_by or "?", at=_when(s.done_at, tz))  # fmt: skip
        else:
            state = _("{state} {at}", state=state_text(s.state), at=_when(s.due_at, tz))
        style = f' style="color:{OVERDUE_COLOUR};font-weight:bold"' if s.state == "overdue" else ""
        items.append(
            f'<li class="ops-step ops-step-{s.state}" data-step-id="{html.escape(s.step_id)}" '
            f'data-state="{s.state}"{style}>{html.escape(s.action)} · <i>{html.escape(who)}</i>'
            f" · {html.escape(state)}</li>"
        )
    attrs = (
        f'data-run-id="{run.id}" data-plan-id="{html.escape(run.plan_id)}" '
        f'data-alert-id="{html.escape(run.alert_id or "")}"'
    )
    title = _(
        "{name}: activated {at} by {who}",
        name=run.name,
        at=_when(run.activated_at, tz),
        who=run.activated_by,
    )
    return (
        f'<div class="ops-plan" {attrs}><b>{html.escape(title)}</b>'
        f"{escalation_html(run, tz, people)}"
        f'<ul class="ops-steps">{"".join(items)}</ul></div>'
    )


def _record(ctx: ui.Context, entry: LogEntry, action: str, detail: str) -> bool:
    try:
        done = record(cache.store(ctx.store_url), ctx.settings, [entry])
    except StoreError as exc:
        st.error(_("NOT recorded: {error}", error=exc))
        return False
    cache.log_written()
    auth.audit(action, detail)
    if done.problem:
        st.warning(done.problem)
    return True


def tick(ctx: ui.Context, run: PlanRun, step_id: str, now_s: float) -> bool:
    """Record that the logged-in operator did `step_id` of `run`, now (event time)."""
    actor = ui.current_actor()
    if not actor or not auth.can("plan"):
        st.error(_("Only a logged-in operator can tick a plan's steps."))
        return False
    try:
        entry = step_entry(run, step_id, author=actor, at=clock_for(ctx, run.drill, now_s))
    except LogError as exc:
        st.error(str(exc))
        return False
    return _record(ctx, entry, "plan_step", f"plan={run.plan_id} step={step_id} run={run.id}")


def start(
    ctx: ui.Context,
    plan: Plan,
    category: str,
    *,
    alert_id: str | None = None,
    incident_id: str | None = None,
    drill: bool = False,
) -> bool:
    """Activate `plan` by hand, now, signed by the login."""
    actor = ui.current_actor()
    if not actor or not auth.can("plan"):
        st.error(_("Only a logged-in operator can activate a plan."))
        return False
    now_s = time.time()
    try:
        entry = activation(
            plan, clock_for(ctx, drill, now_s), author=actor, category=category,
            alert_id=alert_id, incident_id=incident_id, drill=drill,
        )  # fmt: skip
    except LogError as exc:
        st.error(str(exc))
        return False
    target = f" alert={alert_id}" if alert_id else f" incident={incident_id}" if incident_id else ""
    return _record(ctx, entry, "plan_activate", f"plan={plan.id}{target}")


def show_run(ctx: ui.Context, run: PlanRun, now_s: float, key: str) -> None:
    """A run's steps and, for operators, a button per step not yet ticked."""
    st.markdown(steps_html(run, ctx.tz, roster(ctx)), unsafe_allow_html=True)
    if not auth.can("plan") or auth.kiosk():
        return
    for s in run.steps:
        if s.ticked:
            continue
        label = _("Done: {action}", action=s.action)
        if st.button(label, key=f"{key}_{run.id}_{s.step_id}") and tick(
            ctx, run, s.step_id, time.time()
        ):
            st.rerun()


@st.fragment(run_every=ui.REFRESH_S)
def alert_plan(ctx: ui.Context, alert_id: str, rule: str, kind: str, drill: bool) -> None:
    """The Alerts page's plan of the chosen alert: its run, or a way to activate one."""
    now_s = time.time()
    found = [r for r in all_runs(ctx, now_s) if r.alert_id == alert_id]
    for run in found:
        show_run(ctx, run, now_s, "alert_plan")
    if found:
        return
    plans = plan_set(ctx)
    if plans is None:
        st.caption(_("No plans file (OPSROOM_PLANS): no plan to follow."))
        return
    plan = plans.for_rule(rule)
    if not auth.can("plan"):
        st.caption(_("No plan activated for this alert."))
        return
    options = [p.id for p in plans.plans]
    names = {p.id: p.name for p in plans.plans}
    chosen = st.selectbox(
        _("Plan"), options, index=options.index(plan.id) if plan else 0,
        format_func=lambda i: names[i], key=f"plan_pick_{alert_id}",
    )  # fmt: skip
    picked = plans.get(chosen) if chosen else None
    if (
        picked is not None
        and st.button(_("Activate plan"), key=f"plan_start_{alert_id}")
        and start(ctx, picked, category_of(kind), alert_id=alert_id, drill=drill)
    ):
        st.rerun()


def incident_plans(ctx: ui.Context, incident_id: str, category: str, drill: bool) -> None:
    """Activate a plan for a control-log incident: the plans its category starts."""
    plans = plan_set(ctx)
    if plans is None or not auth.can("plan"):
        return
    now_s = time.time()
    for run in (r for r in all_runs(ctx, now_s) if r.incident_id == incident_id):
        show_run(ctx, run, now_s, "incident_plan")
    for plan in plans.for_category(category):
        if st.button(
            _("Activate plan: {name}", name=plan.name), key=f"inc_plan_{incident_id}_{plan.id}"
        ) and start(ctx, plan, category, incident_id=incident_id, drill=drill):
            st.success(_("Plan {name} activated.", name=plan.name))


def needing_action(runs: list[PlanRun]) -> list[PlanRun]:
    """The runs with steps to do, what needs someone first: those due for escalation, then
    those with the most overdue steps, then the newest. A wall screen lists only the first
    few; a burst of new runs must not push an escalation off it."""
    going = [r for r in runs if not r.complete]
    return sorted(
        going,
        key=lambda r: (not r.escalation_due, -len(r.overdue), -r.activated_at.timestamp()),
    )


def in_progress(ctx: ui.Context) -> None:
    """The Overview's (and wall screen's) panel: runs with steps to do, overdue ones red."""
    now_s = time.time()
    going = needing_action(all_runs(ctx, now_s))
    late = sum(len(r.overdue) for r in going)
    escalate = sum(1 for r in going if r.escalation_due)
    st.subheader(
        _("Plans in progress ({n})", n=len(going))
        + (" · " + _("{n} steps overdue", n=late) if late else "")
        + (" · " + _("{n} to escalate", n=escalate) if escalate else "")
    )
    if not going:
        st.caption(_("No plan in progress."))
        return
    people = roster(ctx)
    st.markdown(
        '<div class="ops-plans-panel">'
        + "".join(steps_html(r, ctx.tz, people) for r in going[:PANEL_MAX])
        + "</div>",
        unsafe_allow_html=True,
    )
    if len(going) > PANEL_MAX:
        st.caption(
            _(
                "{n} more plans in progress: each alert's plan is on the Alerts page.",
                n=len(going) - PANEL_MAX,
            )
        )


def alert_section(ctx: ui.Context, alert: object) -> None:
    """The chosen alert's plan under its own heading (`alert`: a row of the active table)."""
    st.subheader(_("Contingency plan"))
    alert_plan(
        ctx,
        str(getattr(alert, "name", "")),
        str(getattr(alert, "rule", "")),
        str(getattr(alert, "kind", "")),
        bool(getattr(alert, "drill", False)),
    )
