"""Crowd: occupancy against capacity, density per zone on the venue map, gate flow.

The family's dashboard part: its tables (pure queries) on top, its page below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard import cache, charts, lang, limits, queries, ui
from dashboard.lang import _
from dashboard.queries import (
    FUTURE_SLACK,
    GATE_FLOW_WINDOW,
    Thresholds,
    _age,
    _alerts_by_subject,
    _frame,
    _latest,
    derived,
    levels_of,
)
from dashboard.tables import Table, TableInputs
from opsroom.alerts import AlertEvent
from opsroom.families.crowd import FAMILY
from opsroom.store import Store
from opsroom.venue import Venue

ZONE_COLUMNS = ["name", "occupancy", "capacity", "occupancy_pct", "density", "status", "age_s"]
GATE_COLUMNS = ["name", "width_m", "in_per_min", "out_per_min", "flow_per_m_min", "status"]

ICON = ":material/groups:"

# ---------------------------------------------------------------- tables


def zones_frame(
    store: Store,
    venue: Venue,
    now: datetime,
    active: Sequence[AlertEvent] = (),
    thresholds: Thresholds | None = None,
) -> pd.DataFrame:
    """One row per zone: occupancy against capacity, density, status and age."""
    latest = _latest(store, venue, "crowd")
    alerts = _alerts_by_subject(active, "crowd")
    rows = []
    for z in venue.zones:
        r = latest.get(z.id)
        values = r.values if r else {}
        occ = values.get("occupancy")
        occupancy = float(occ) if occ is not None else None
        pct = derived("occupancy_pct", z, values)
        pct = None if pct is None else pct / 100  # the tile's fraction of capacity
        density = derived("density_ppm2", z, values)
        levels = levels_of(thresholds, z.id)
        status = limits.worst(
            limits.occupancy_band(z, levels).status(pct),
            limits.density_band(z, levels).status(density),
            alerts.get(z.id, "ok"),
        )
        rows.append(
            {
                "id": z.id,
                "name": z.name or z.id,
                "occupancy": occupancy,
                "capacity": z.capacity,
                "occupancy_pct": None if pct is None else pct * 100,
                "area_m2": z.area_m2,
                "density": density,
                "status": status,
                "ts": r.ts if r else None,
                "age_s": _age(now, r),
                "drill": bool(r and r.drill),
            }
        )
    return _frame(rows)


def gates_frame(
    store: Store,
    venue: Venue,
    now: datetime,
    active: Sequence[AlertEvent] = (),
    window: timedelta = GATE_FLOW_WINDOW,
    thresholds: Thresholds | None = None,
) -> pd.DataFrame:
    """One row per gate: persons in and out per minute, and per metre of width per minute.

    Counters report counts since their previous report, so the rate over the window is the
    sum of the counts after the first reading divided by the time they span.
    """
    ids = [g.id for g in venue.gates]
    latest = _latest(store, venue, "crowd")
    start, end = now - window, now + FUTURE_SLACK
    per_min: dict[tuple[str, str], float] = {}
    for direction in ("in", "out"):
        points = store.series("crowd", direction, ids, start, end) if ids else []
        by_sensor: dict[str, list[tuple[datetime, float]]] = {}
        for p in points:
            by_sensor.setdefault(p.sensor_id, []).append((p.ts, p.value))
        for sid, pts in by_sensor.items():
            if len(pts) >= 2:
                span = (pts[-1][0] - pts[0][0]).total_seconds() / 60
                per_min[sid, direction] = sum(v for _, v in pts[1:]) / span if span > 0 else 0.0
            else:
                interval = FAMILY.report_interval.total_seconds() / 60
                per_min[sid, direction] = pts[0][1] / interval
    alerts = _alerts_by_subject(active, "crowd")
    rows = []
    for g in venue.gates:
        r = latest.get(g.id)
        band = limits.gate_flow_band(g, levels_of(thresholds, g.id))
        in_min = per_min.get((g.id, "in"))
        out_min = per_min.get((g.id, "out"))
        # the gate-flow rule's value over the window: counts per minute, over one minute
        counts = {k: v for k, v in (("in", in_min), ("out", out_min)) if v is not None}
        flow = derived("flow_ppmm", g, counts, 60.0)
        rows.append(
            {
                "id": g.id,
                "name": g.name or g.id,
                "zone": g.zone,
                "width_m": g.width_m,
                "in_per_min": in_min,
                "out_per_min": out_min,
                "flow_per_m_min": flow,
                "status": limits.worst(band.status(flow), alerts.get(g.id, "ok")),
                "ts": r.ts if r else None,
                "age_s": _age(now, r),
                "drill": bool(r and r.drill),
            }
        )
    return _frame(rows)


def _zones(t: TableInputs) -> pd.DataFrame:
    return zones_frame(t.store, t.venue, t.now, t.active, t.thresholds)


def _gates(t: TableInputs) -> pd.DataFrame:
    return gates_frame(t.store, t.venue, t.now, t.active, thresholds=t.thresholds)


TABLES: dict[str, Table] = {"zones": _zones, "gates": _gates}


def overview_panel(table: Callable[[str], pd.DataFrame]) -> None:
    """The Overview's zone tiles: occupancy, percentage of capacity and density."""
    st.subheader(_("Zones"))
    ui.tiles(queries.zone_tiles(table("zones")), columns=3)


def map_layer(venue_map: charts.VenueMap, table: Callable[[str], pd.DataFrame]) -> None:
    """The zones coloured by status with their density, and the gates, on the venue map."""
    zones = table("zones")
    colours = {r.id: charts.COLOURS[r.status] for r in zones.itertuples()}
    venue_map.zones(colours, _density_labels(zones)).gates()


def _density_labels(zones: pd.DataFrame) -> dict[str, str]:
    return {
        r.id: _("no data") if r.density is None or pd.isna(r.density) else f"{r.density:.2f} p/m²"
        for r in zones.itertuples()
    }


# ---------------------------------------------------------------- page


def _gate_limits(ctx: ui.Context) -> str:
    """The gates' flow limits in words; gates held to other limits than most are named."""
    bands = {g.id: limits.gate_flow_band(g, ctx.levels(g.id)) for g in ctx.venue.gates}
    names = lang.names(ctx.venue.gates)
    parts = []
    for i, (band, ids) in enumerate(limits.grouped(bands)):
        text = band.text("{:.0f}".format)
        parts.append(text if i == 0 else f"{', '.join(names[g] for g in ids)}: {text}")
    return "; ".join(parts)


def _tables(ctx: ui.Context, now: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    return ctx.table("zones", now), ctx.table("gates", now)


@st.fragment(run_every=ui.FAMILY_REFRESH_S)
def live(ctx: ui.Context) -> None:
    """Freshness and the zone and gate tables, refreshed in place."""
    now = ui.now_s()
    key = (ctx.store_url, ctx.venue_path, ctx.venue_mtime)
    age = cache.data_age(*key, ("crowd",), now, ctx.settings.dashboard_stale_s)
    zones, gates = _tables(ctx, now)
    ui.drill_banner(age.drill)
    ui.freshness(age, ctx.tz)
    st.subheader(_("Zones"))
    ui.table(zones, ZONE_COLUMNS)
    if len(gates):
        st.subheader(_("Gate flow (persons per metre of width per minute)"))
        ui.table(gates, GATE_COLUMNS)


@st.fragment(run_every=ui.CHART_REFRESH_S)
def live_charts(ctx: ui.Context, window_s: float) -> None:
    """The map, occupancy and gate-flow bars and occupancy over time, redrawn in place."""
    now = ui.now_s()
    zones, gates = _tables(ctx, now)
    left, right = st.columns([3, 2])
    with left:
        colours = {r.id: charts.COLOURS[r.status] for r in zones.itertuples()}
        labels = _density_labels(zones)
        fig = charts.VenueMap(ctx.venue, ctx.settings.dashboard_tiles).zones(colours, labels)
        st.plotly_chart(fig.gates().figure(height=480), key="crowd_map")
    with right:
        st.plotly_chart(
            charts.bar_chart(
                list(zones["name"]),
                list(zones["occupancy_pct"].fillna(0)),
                [charts.COLOURS[s] for s in zones["status"]],
                _("Occupancy, % of licensed capacity"),
                "%",
            ),
            key="crowd_bars",
        )

    ids = tuple(z.id for z in ctx.venue.zones)
    series = cache.series(ctx.store_url, "crowd", "occupancy", ids, now, window_s)
    capacity = {z.id: z.capacity for z in ctx.venue.zones}
    if len(series):
        series = series.assign(value=series["value"] / series["sensor_id"].map(capacity) * 100)
    names = lang.names(ctx.venue.zones)
    bands, lines = ui.band_marks(
        {z.id: limits.occupancy_band(z, ctx.levels(z.id)).scaled(100) for z in ctx.venue.zones},
        names,
        lambda _, pct: f"{pct:g} %",
        shade_warning=False,
    )
    st.plotly_chart(
        charts.series_chart(
            series,
            names,
            _("Occupancy over time, % of capacity"),
            "%",
            bands=bands,
            lines=lines,
            timezone=ctx.tz,
        ),
        key="crowd_series",
    )
    if len(gates):
        st.plotly_chart(
            charts.bar_chart(
                list(gates["name"]),
                list(gates["flow_per_m_min"].fillna(0)),
                [charts.COLOURS[s] for s in gates["status"]],
                _("Gate flow ({limits})", limits=_gate_limits(ctx)),
                _("persons / m / min"),
            ),
            key="gate_bars",
        )
    ui.charts_note(ui.FAMILY_REFRESH_S)


def page() -> None:
    """The family's page (Streamlit runs this file as a script)."""
    context = ui.context()
    st.title(_(FAMILY.title))
    window = ui.window_picker("crowd_window")
    live(context)
    live_charts(context, window)


if __name__ == "__main__":
    page()
