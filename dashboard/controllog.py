"""Writing to the control log from the dashboard: signed by `ui.current_actor()`, checked,
stored, then published live (opsroom.controllog.record)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from dashboard import auth, cache, ui
from opsroom.controllog import CATEGORIES, Incident, LogEntry, LogError, new_entry
from opsroom.controllog.model import SEVERITY_PRIORITY, category_of
from opsroom.controllog.record import record
from opsroom.store import StoreError

SHOWN = 200  # entries in the page's list
LABELS = {c: c.replace("_", " ") for c in CATEGORIES}


def save(ctx: ui.Context, **fields: Any) -> LogEntry | None:
    """Record an entry by the current actor; shows why not, or that the live feed missed it."""
    actor = ui.current_actor()
    if not actor or not auth.can("log"):
        st.error("Only a logged-in operator can write the control log: every entry is signed.")
        return None
    entities = {item.id for _, _, items in ctx.venue.sections() for item in items}
    try:
        entry = new_entry(author=actor, entities=entities, **fields)
        done = record(cache.store(ctx.store_url), ctx.settings, [entry])
        cache.log_written()
    except LogError as exc:
        st.error(str(exc))
        return None
    except StoreError as exc:
        st.error(f"Entry NOT recorded: {exc}")
        return None
    if done.problem:
        st.warning(done.problem)
    return entry


def open_from_alert(ctx: ui.Context, alert: Any) -> LogEntry | None:
    """Open an incident from an alert (a row of the active alerts table), linked to it."""
    entities = {item.id for _, _, items in ctx.venue.sections() for item in items}
    return save(
        ctx,
        kind="incident_open",
        category=category_of(str(alert.kind)),
        priority=SEVERITY_PRIORITY.get(str(alert.severity), "normal"),
        text=f"{alert.subject}: {alert.message or alert.rule}",
        alert_id=str(alert.alert_id),
        location=str(alert.subject) if str(alert.subject) in entities else None,
    )


def _when(ts: datetime, tz: str) -> str:
    return ts.astimezone(ZoneInfo(tz)).strftime("%H:%M:%S")


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def entry_list(entries: Sequence[LogEntry], tz: str, corrected_ids: set[str]) -> str:
    """Entries newest first as an HTML list, every text escaped: `<li data-log-id=...>`."""
    items = []
    for e in list(reversed(entries))[:SHOWN]:
        text = e.text
        if e.kind == "decision":
            text += f" — DECISION: {e.decision}; rationale: {e.rationale}; by {e.decided_by}"
        if e.owner:
            text += f" → owner {e.owner}"
        if e.corrects:
            text += f" (corrects {e.corrects[:8]})"
        flags = (" · CORRECTED" if e.id in corrected_ids else "") + (" · DRILL" if e.drill else "")
        where = f" @ {e.location}" if e.location else ""
        thread = f" #{e.incident_id[:8]}" if e.incident_id else ""
        attrs = " ".join(
            f'data-{k}="{html.escape(v, quote=True)}"'
            for k, v in (("log-id", e.id), ("kind", e.kind), ("category", e.category))
        )
        items.append(
            f'<li class="ops-log ops-log-{e.priority}" {attrs}>'
            f"<b>{_when(e.event_ts, tz)}</b> · {html.escape(e.priority.upper())} · "
            f"{html.escape(LABELS[e.category])} · {html.escape(e.kind)} · "
            f"<i>{html.escape(e.author)}</i>: {html.escape(text + where + thread + flags)}</li>"
        )
    return (
        '<ul class="ops-log-list" aria-label="Control log, newest first">'
        + "".join(items)
        + "</ul>"
    )


def incident_list(found: Sequence[Incident], tz: str, now: datetime) -> str:
    """Incidents as an HTML list: open ones with their age, closed ones with time to close."""
    items = []
    for i in found:
        state = (
            f"OPEN for {_span(i.age(now))}"
            if i.is_open
            else f"closed after {_span(i.time_to_close or timedelta(0))}"
        )
        owner = f" · owner {i.owner}" if i.owner else ""
        items.append(
            f'<li class="ops-incident" data-incident-id="{i.id}" data-open="{i.is_open}">'
            f"<b>{html.escape(i.opened.priority.upper())}</b> · "
            f"{html.escape(LABELS[i.opened.category])} · {html.escape(i.opened.text)} · "
            f"{state} · {i.updates} updates{html.escape(owner)} · #{i.id[:8]}"
            f" (opened {_when(i.opened.event_ts, tz)})</li>"
        )
    return '<ul class="ops-incident-list" aria-label="Incidents">' + "".join(items) + "</ul>"
