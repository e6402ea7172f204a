"""Overview: a traffic light per family and per zone, active alerts by severity, data age."""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dashboard import cache, charts, controllog, lang, notifications, owners, plans, queries, ui
from dashboard.families import PARTS
from dashboard.lang import N_, _

ALERT_COLUMNS = ["severity", "state", "kind", "subject", "rule", "message", "ts", "drill"]
LIST_MAX = 15  # items in the text list of active alerts
NO_DATA = N_("no data yet")


def alert_list(active: pd.DataFrame, tz: str) -> str:
    """The newest active alerts as an HTML list: text in the page, not only in a canvas table.

    One `<li data-alert-id=...>` per alert (severity, subject, rule, state, who acknowledged
    it, time), newest
    first, at most LIST_MAX; a screen reader reads it, and a browser test can find it.
    """
    newest = active.sort_values("ts", ascending=False, kind="stable").head(LIST_MAX)
    items = []
    for row in newest.itertuples(index=False):
        attrs = " ".join(
            f'data-{name}="{html.escape(str(getattr(row, field)), quote=True)}"'
            for name, field in (
                ("alert-id", "alert_id"),
                ("severity", "severity"),
                ("state", "state"),
                ("subject", "subject"),
                ("rule", "rule"),
            )
        )
        at = lang.tr().time(row.ts, tz)
        actor = getattr(row, "actor", None)
        by = (_("by {actor}", actor=actor),) if isinstance(actor, str) and actor else ()
        owner = getattr(row, "owner", None)
        owned = (_("owner {owner}", owner=owner),) if isinstance(owner, str) and owner else ()
        severity, state = _(row.severity).upper(), _(row.state)
        text = " · ".join(
            html.escape(str(v)) for v in (severity, row.subject, row.rule, state, *by, *owned, at)
        )
        if owned:
            attrs += f' data-owner="{html.escape(str(owner), quote=True)}"'
        if by:
            attrs += f' data-actor="{html.escape(str(actor), quote=True)}"'
        items.append(f'<li class="ops-alert" {attrs}>{text}</li>')
    more = len(active) - len(newest)
    tail = f"<p>{html.escape(_('and {n} more in the table above', n=more))}</p>" if more else ""
    label = html.escape(_("Active alerts, newest first"), quote=True)
    return f'<ul class="ops-alert-list" aria-label="{label}">' + "".join(items) + "</ul>" + tail


@st.fragment(run_every=ui.REFRESH_S)
def live(ctx: ui.Context) -> None:
    """The whole page, refreshed in place."""
    now = ui.now_s()
    key = (ctx.store_url, ctx.venue_path, ctx.venue_mtime)
    stale_s = ctx.settings.dashboard_stale_s
    active = cache.active_table(ctx.store_url, now)

    def table(name: str) -> pd.DataFrame:
        return ctx.table(name, now)

    # a family's traffic light joins the statuses of every table it brings (a venue without
    # that family's entities gives an empty table, with no columns at all)
    frames = {
        kind: pd.concat([table(name).reindex(columns=["status"]) for name in part.TABLES])
        for kind, part in PARTS.items()
        if part.TABLES
    }
    ages = {k: cache.data_age(*key, (k,), now, stale_s) for k in queries.FAMILY_LABELS}
    overall = cache.data_age(*key, tuple(queries.FAMILY_LABELS), now, stale_s)
    ui.drill_banner(overall.drill or bool(len(active) and active["drill"].any()))
    ui.freshness(overall, ctx.tz)
    attempts = cache.notification_log(str(ctx.settings.notification_log))
    ui.notifier_alarms(notifications.health(attempts.attempts), ctx.tz)

    counts = queries.alert_counts(active)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(_("Critical alerts"), counts["critical"])
    c2.metric(_("Warning alerts"), counts["warning"])
    c3.metric(_("Info alerts"), counts["info"])
    c4.metric(_("Data age"), overall.text if overall.newest is not None else _(NO_DATA))

    st.subheader(_("Families"))
    ui.tiles(queries.family_tiles(frames, active, ages), columns=4)
    for part in PARTS.values():
        panel = getattr(part, "overview_panel", None)
        if panel is not None:
            panel(table)

    st.subheader(_("Active alerts"))
    if len(active):
        active = owners.with_owner(ctx, active, now)
        shown = active[owners.columns(ALERT_COLUMNS)].assign(ts=active["ts"].dt.tz_convert(ctx.tz))
        lang.dataframe(shown, hide_index=True, width="stretch")
        st.caption(_("Newest first"))
        st.markdown(alert_list(active, ctx.tz), unsafe_allow_html=True)
    elif overall.newest is None:
        # nothing has reported: no alert is no news, not good news
        st.warning(
            _(
                "No data yet: no device of the venue has reported, so no alert says nothing "
                "about the venue. Devices that stay silent raise silent-device alerts after "
                "their grace period."
            )
        )
    else:
        st.success(_("No active alerts."))
    plans.in_progress(ctx)
    open_incidents(ctx)


@st.fragment(run_every=ui.CHART_REFRESH_S)
def live_map(ctx: ui.Context) -> None:
    """Every family's layer on the venue map, redrawn in place (below the alerts: what needs
    acting on comes first, and the map is redrawn less often)."""
    now = ui.now_s()

    def table(name: str) -> pd.DataFrame:
        return ctx.table(name, now)

    st.subheader(_("Venue map"))
    venue_map = charts.VenueMap(ctx.venue, ctx.settings.dashboard_tiles)
    for part in PARTS.values():
        layer = getattr(part, "map_layer", None)
        if layer is not None:
            layer(venue_map, table)
    st.plotly_chart(venue_map.figure(height=480), key="overview_map")
    ui.charts_note()


def open_incidents(ctx: ui.Context) -> None:
    """The control log's open incidents, with their age and owner."""
    now_s = time.time()
    found = cache.open_incidents(ctx.store_url, now_s)
    st.subheader(_("Open incidents ({n})", n=len(found)))
    if found:
        now = datetime.fromtimestamp(now_s, UTC)
        st.markdown(controllog.incident_list(found, ctx.tz, now), unsafe_allow_html=True)
    else:
        st.caption(_("No open incidents in the control log."))


context = ui.context()
st.title(_("{event} · Overview", event=lang.display_name(context.venue.event)))
live(context)
live_map(context)
