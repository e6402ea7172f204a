"""Owners on the dashboard: pick a person or a team of the roster, assign an alert to one, and
show who owns each active alert (a fold over the control log's `assigned` entries)."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import cache, controllog, ui
from dashboard.lang import _
from opsroom.configfile import ConfigError
from opsroom.controllog import LogEntry, LogError
from opsroom.controllog.model import SEVERITY_PRIORITY, category_of
from opsroom.controllog.owners import alert_owners, choices, owner_label, resolve_owner
from opsroom.roster import Roster, load_roster


@st.cache_resource(show_spinner=False)
def _roster(path: str, mtime: float) -> Roster:
    return load_roster(path)


def roster(ctx: ui.Context) -> Roster | None:
    """The roster file (OPSROOM_ROSTER), reloaded when it changes; None without one. A roster
    that does not load is said on the page, and owners are then free text."""
    path = ctx.settings.roster
    if path is None:
        return None
    try:
        return _roster(str(path), os.stat(path).st_mtime)
    except (OSError, ConfigError) as exc:
        st.warning(_("Roster not loaded, owners are free text: {error}", error=exc))
        return None


def picker(ctx: ui.Context, key: str) -> str:
    """A selectbox of the roster's people and teams (a text field without a roster)."""
    found = roster(ctx)
    if found is None:
        return str(st.text_input(_("Owner (person or team)"), key=key))
    options = choices(found)
    picked = st.selectbox(
        _("Owner"),
        list(options),
        format_func=lambda i: options[i],
        index=None,
        key=key,
        placeholder=_("Choose a person or a team"),
    )
    return str(picked or "")


def owners(ctx: ui.Context, now_s: float) -> dict[str, str]:
    """Alert id -> owner's label, from every assignment in the log (shared snapshot)."""
    entries = cache.LOG_SNAPSHOTS.take(
        ("alert_owners", ctx.store_url),
        now_s,
        lambda now: alert_owners(cache.store(ctx.store_url).log_entries()),
    )
    found = roster(ctx)
    return {alert: owner_label(found, owner) for alert, (owner, _at) in entries.items()}


def with_owner(ctx: ui.Context, active: pd.DataFrame, now_s: float) -> pd.DataFrame:
    """The active alerts table with an `owner` column."""
    known = owners(ctx, now_s)
    return active.assign(owner=[known.get(a, "") for a in active["alert_id"]])


def columns(names: list[str]) -> list[str]:
    """A table's columns with `owner` after `subject`."""
    at = names.index("subject") + 1 if "subject" in names else len(names)
    return [*names[:at], "owner", *names[at:]]


def assign(ctx: ui.Context, alert: Any, owner_text: str) -> LogEntry | None:
    """Assign an alert (a row of the active table) to an owner: an `assigned` log entry."""
    try:
        owner = resolve_owner(roster(ctx), owner_text)
    except LogError as exc:
        st.error(str(exc))
        return None
    label = owner_label(roster(ctx), owner)
    return controllog.save(
        ctx,
        kind="assigned",
        category=category_of(str(alert.kind)),
        priority=SEVERITY_PRIORITY.get(str(alert.severity), "normal"),
        text=_(
            "{subject} · {rule}: assigned to {owner}",
            subject=alert.subject,
            rule=alert.rule,
            owner=label,
        ),
        alert_id=str(alert.alert_id),
        owner=owner,
        drill=bool(alert.drill),
    )


def assign_form(ctx: ui.Context, alert: Any) -> None:
    """The form that assigns the chosen alert to a person or a team of the roster."""
    with st.form("alert_owner_form", clear_on_submit=True):
        owner = picker(ctx, "alert_owner")
        sent = st.form_submit_button(_("Assign"))
    if sent:
        entry = assign(ctx, alert, owner)
        if entry is not None:
            st.success(_("Assigned to {owner}.", owner=owner_label(roster(ctx), entry.owner)))


def assign_incident(
    ctx: ui.Context, incident_id: str, owner_text: str, note: str, base: dict[str, Any]
) -> LogEntry | None:
    """Assign an open incident to an owner of the roster (free text without one)."""
    try:
        owner = resolve_owner(roster(ctx), owner_text)
    except LogError as exc:
        st.error(str(exc))
        return None
    label = owner_label(roster(ctx), owner)
    text = note or _("assigned to {owner}", owner=label)
    entry = controllog.save(ctx, kind="assigned", owner=owner, text=text, **base)
    if entry is not None:
        st.success(_("#{incident} assigned to {owner}", incident=incident_id[:8], owner=label))
    return entry
