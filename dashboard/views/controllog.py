"""Control log: quick entry by category, filters and search, incident threads with time to close.

Entries are written to the store and published on MQTT (opsroom.controllog.record); the live
part reads the store every LOG_REFRESH_S, so an entry made anywhere (another screen, the CLI,
the rules service) shows on every open screen within 2 s.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import streamlit as st

from dashboard import auth, cache, handover, owners, plans, ui
from dashboard.controllog import SHOWN, entry_list, incident_list, label, save
from dashboard.lang import N_, _
from opsroom.controllog import CATEGORIES, PRIORITIES, Incident

LOG_REFRESH_S = 1
KIND_LABELS = {"note": N_("Note"), "incident_open": N_("Open incident"), "decision": N_("Decision")}


@st.fragment(run_every=LOG_REFRESH_S)
def live(ctx: ui.Context, categories: tuple[str, ...], text: str, window_s: float) -> None:
    """The log and the incidents, refreshed in place."""
    now_s = time.time()
    now = datetime.fromtimestamp(now_s, UTC)
    entries = cache.log_entries(ctx.store_url, now_s, window_s, categories, text)
    ui.drill_banner(any(e.drill for e in entries))
    corrected_ids = {e.corrects for e in entries if e.corrects}
    open_now = cache.open_incidents(ctx.store_url, now_s)
    st.subheader(_("Open incidents ({n})", n=len(open_now)))
    if open_now:
        st.markdown(incident_list(open_now, ctx.tz, now), unsafe_allow_html=True)
    else:
        st.caption(_("No open incidents."))
    st.subheader(_("Log"))
    st.caption(
        _("{n} entries", n=len(entries))
        + (_(", newest {n} shown", n=SHOWN) if len(entries) > SHOWN else "")
    )
    st.markdown(entry_list(entries, ctx.tz, corrected_ids), unsafe_allow_html=True)


def quick_entry(ctx: ui.Context, open_now: Sequence[Incident]) -> None:
    """Type the text, press the category: the entry is recorded at once."""
    kind = st.segmented_control(_("Entry"), list(KIND_LABELS),
                                format_func=lambda k: _(KIND_LABELS[k]),
                                default="note", key="log_kind") or "note"  # fmt: skip
    threads = {"": _("— not part of an incident —")} | {
        i.id: f"#{i.id[:8]} {i.opened.text[:60]}" for i in open_now
    }
    with st.form("log_entry", clear_on_submit=True):
        text = st.text_area(_("What happened"), key="log_text", height=80, max_chars=2000)
        c1, c2, c3 = st.columns(3)
        priority = c1.segmented_control(
            _("Priority"), PRIORITIES, default="normal", key="log_pri", format_func=_
        )
        location = c2.text_input(_("Location (entity id or lat,lon)"), key="log_loc")
        thread = c3.selectbox(
            _("Incident"), list(threads), format_func=lambda i: threads[i], key="log_thread",
            disabled=kind == "incident_open",
        )  # fmt: skip
        fields: dict[str, Any] = {}
        if kind == "decision":
            d1, d2, d3 = st.columns(3)
            fields["decision"] = d1.text_input(_("Decision"), key="log_decision")
            fields["rationale"] = d2.text_input(_("Rationale"), key="log_rationale")
            fields["decided_by"] = d3.text_input(_("Decided by (default: you)"), key="log_by")
        st.caption(_("Record as:"))
        cols = st.columns(6)
        pressed = [
            c
            for n, c in enumerate(CATEGORIES)
            if cols[n % 6].form_submit_button(label(c), key=f"log_cat_{c}", width="stretch")
        ]
    if not pressed:
        return
    entry_kind = kind
    if thread and kind == "note":
        entry_kind = "update"
    if thread and kind != "incident_open":
        fields["incident_id"] = thread
    if kind == "decision":
        fields["decided_by"] = fields.get("decided_by") or ui.current_actor()
    entry = save(ctx, category=pressed[0], kind=entry_kind, priority=priority or "normal",
                 text=text, location=location or None, **fields)  # fmt: skip
    if entry is not None:
        st.success(
            _(
                "Recorded: {kind} ({category}) #{id}",
                kind=_(entry.kind),
                category=label(entry.category),
                id=entry.id[:8],
            )
        )


def thread_actions(ctx: ui.Context, open_now: Sequence[Incident]) -> None:
    """Assign or close an open incident."""
    if not open_now:
        return
    options = {i.id: f"#{i.id[:8]} {i.opened.text[:60]}" for i in open_now}
    chosen = st.selectbox(
        _("Incident"), list(options), format_func=lambda i: options[i], key="inc_pick"
    )
    incident = next((i for i in open_now if i.id == chosen), None)
    if incident is None:
        return
    with st.form("incident_actions", clear_on_submit=True):
        owner = owners.picker(ctx, "inc_owner")
        note = st.text_input(_("Note"), key="inc_note")
        c1, c2 = st.columns(2)
        assign = c1.form_submit_button(_("Assign"))
        close = c2.form_submit_button(_("Close incident"), type="primary")
    base = {"category": incident.opened.category, "priority": incident.opened.priority,
            "incident_id": incident.id}  # fmt: skip
    if assign:
        owners.assign_incident(ctx, incident.id, owner, note, base)
    elif close and save(ctx, kind="incident_close", text=note or "closed", **base):
        st.success(_("#{id} closed", id=incident.id[:8]))
    plans.incident_plans(ctx, incident.id, incident.opened.category, incident.opened.drill)


context = ui.context()
st.title(_("Control log"))
open_incidents = cache.open_incidents(context.store_url, time.time())
if auth.can("log"):  # viewers and the wall screen read the log; operators write it
    st.caption(_("Entries are signed {actor}.", actor=ui.current_actor()))
    with st.expander(_("New entry"), expanded=True):
        quick_entry(context, open_incidents)
    with st.expander(_("Assign or close an incident"), expanded=False):
        thread_actions(context, open_incidents)
    with st.expander(_("Shift handover"), expanded=False):
        handover.panel(context)
if auth.kiosk():  # the wall screen: no controls, the last 24 h of every category
    shown_categories: tuple[str, ...] = ()
    search = ""
    log_window = float(ui.WINDOWS["24 h"])
else:
    with st.expander(_("Filters"), expanded=False):
        shown_categories = tuple(
            st.multiselect(_("Category"), CATEGORIES, format_func=label, key="log_f_cat")
        )
        search = st.text_input(_("Search text, author, decision"), key="log_f_text")
        log_window = ui.window_picker("log_window", default="24 h")
live(context, shown_categories, search, log_window)
