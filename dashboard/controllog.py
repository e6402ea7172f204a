"""Writing to the control log from the dashboard: signed by `ui.current_actor()`, checked,
stored, then published live (opsroom.controllog.record)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import streamlit as st

from dashboard import auth, cache, lang, ui
from dashboard.lang import N_, _, ngettext
from opsroom.controllog import CATEGORIES, Incident, LogEntry, LogError, new_entry
from opsroom.controllog.model import SEVERITY_PRIORITY, category_of
from opsroom.controllog.record import record
from opsroom.store import StoreError

SHOWN = 200  # entries in the page's list
# the words people read for categories, entry kinds and priorities (shown through `_()`)
CATEGORY_WORDS = (
    N_("medical"),
    N_("lost person"),
    N_("found person"),
    N_("security"),
    N_("crowd"),
    N_("weather"),
    N_("power"),
    N_("food safety"),
    N_("transport"),
    N_("facilities"),
    N_("communications"),
    N_("other"),
)
LABELS = {c: c.replace("_", " ") for c in CATEGORIES}
WORDS = (
    N_("note"),
    N_("incident_open"),
    N_("update"),
    N_("assigned"),
    N_("incident_close"),
    N_("decision"),
    N_("correction"),
    N_("alert"),
    N_("low"),
    N_("normal"),
    N_("high"),
    N_("urgent"),
)


def label(category: str) -> str:
    """A category in this session's language."""
    return _(LABELS.get(category, category))


def save(ctx: ui.Context, **fields: Any) -> LogEntry | None:
    """Record an entry by the current actor; shows why not, or that the live feed missed it."""
    actor = ui.current_actor()
    if not actor or not auth.can("log"):
        st.error(_("Only a logged-in operator can write the control log: every entry is signed."))
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
        st.error(_("Entry NOT recorded: {error}", error=exc))
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
    return lang.tr().time(ts, tz)


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes >= 60:
        return _("{hours} h {minutes} min", hours=minutes // 60, minutes=f"{minutes % 60:02d}")
    return _("{minutes} min", minutes=minutes)


def entry_list(entries: Sequence[LogEntry], tz: str, corrected_ids: set[str]) -> str:
    """Entries newest first as an HTML list, every text escaped: `<li data-log-id=...>`."""
    items = []
    for e in list(reversed(entries))[:SHOWN]:
        text = e.text
        if e.kind == "decision":
            text += _(
                " — DECISION: {decision}; rationale: {rationale}; by {by}",
                decision=e.decision,
                rationale=e.rationale,
                by=e.decided_by,
            )
        if e.owner:
            text += _(" → owner {owner}", owner=e.owner)
        if e.corrects:
            text += _(" (corrects {id})", id=e.corrects[:8])
        flags = (_(" · CORRECTED") if e.id in corrected_ids else "") + (
            _(" · DRILL") if e.drill else ""
        )
        where = f" @ {e.location}" if e.location else ""
        thread = f" #{e.incident_id[:8]}" if e.incident_id else ""
        attrs = " ".join(
            f'data-{k}="{html.escape(v, quote=True)}"'
            for k, v in (("log-id", e.id), ("kind", e.kind), ("category", e.category))
        )
        items.append(
            f'<li class="ops-log ops-log-{e.priority}" {attrs}>'
            f"<b>{_when(e.event_ts, tz)}</b> · {html.escape(_(e.priority).upper())} · "
            f"{html.escape(label(e.category))} · {html.escape(_(e.kind))} · "
            f"<i>{html.escape(e.author)}</i>: {html.escape(text + where + thread + flags)}</li>"
        )
    aria = html.escape(_("Control log, newest first"), quote=True)
    return f'<ul class="ops-log-list" aria-label="{aria}">' + "".join(items) + "</ul>"


def incident_list(found: Sequence[Incident], tz: str, now: datetime) -> str:
    """Incidents as an HTML list: open ones with their age, closed ones with time to close."""
    items = []
    for i in found:
        state = (
            _("OPEN for {span}", span=_span(i.age(now)))
            if i.is_open
            else _("closed after {span}", span=_span(i.time_to_close or timedelta(0)))
        )
        owner = _(" · owner {owner}", owner=i.owner) if i.owner else ""
        updates = ngettext("{n} update", "{n} updates", i.updates)
        items.append(
            f'<li class="ops-incident" data-incident-id="{i.id}" data-open="{i.is_open}">'
            f"<b>{html.escape(_(i.opened.priority).upper())}</b> · "
            f"{html.escape(label(i.opened.category))} · {html.escape(i.opened.text)} · "
            f"{state} · {html.escape(updates)}"
            f"{html.escape(owner)} · #{i.id[:8]}"
            + html.escape(_(" (opened {time})", time=_when(i.opened.event_ts, tz)))
            + "</li>"
        )
    aria = html.escape(_("Incidents"), quote=True)
    return f'<ul class="ops-incident-list" aria-label="{aria}">' + "".join(items) + "</ul>"
