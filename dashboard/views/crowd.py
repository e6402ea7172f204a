"""Crowd: occupancy against capacity, density per zone on the venue map, gate flow."""

from __future__ import annotations

import streamlit as st

from dashboard import cache, charts, limits, ui

ZONE_COLUMNS = ["name", "occupancy", "capacity", "occupancy_pct", "density", "status", "age_s"]
GATE_COLUMNS = ["name", "width_m", "in_per_min", "out_per_min", "flow_per_m_min", "status"]


def _gate_limits(ctx: ui.Context) -> str:
    """The gates' flow limits in words; gates held to other limits than most are named."""
    bands = {g.id: limits.gate_flow_band(g, ctx.levels(g.id)) for g in ctx.venue.gates}
    names = {g.id: g.name or g.id for g in ctx.venue.gates}
    parts = []
    for i, (band, ids) in enumerate(limits.grouped(bands)):
        text = band.text("{:.0f}".format)
        parts.append(text if i == 0 else f"{', '.join(names[g] for g in ids)}: {text}")
    return "; ".join(parts)


@st.fragment(run_every=ui.REFRESH_S)
def live(ctx: ui.Context, window_s: float) -> None:
    """Map, charts and tables, refreshed in place."""
    now = ui.now_s()
    key = (ctx.store_url, ctx.venue_path, ctx.venue_mtime)
    age = cache.data_age(*key, ("crowd",), now, ctx.settings.dashboard_stale_s)
    zones = cache.frame(*key, "zones", now, ctx.rules_file)
    gates = cache.frame(*key, "gates", now, ctx.rules_file)
    ui.drill_banner(age.drill)
    ui.freshness(age, ctx.tz)

    left, right = st.columns([3, 2])
    with left:
        colours = {r.id: charts.COLOURS[r.status] for r in zones.itertuples()}
        labels = {
            r.id: "no data" if r.density != r.density else f"{r.density:.2f} p/m²"
            for r in zones.itertuples()
        }
        fig = charts.VenueMap(ctx.venue, ctx.settings.dashboard_tiles).zones(colours, labels)
        st.plotly_chart(fig.gates().figure(height=480), key="crowd_map")
    with right:
        st.plotly_chart(
            charts.bar_chart(
                list(zones["name"]),
                list(zones["occupancy_pct"].fillna(0)),
                [charts.COLOURS[s] for s in zones["status"]],
                "Occupancy, % of licensed capacity",
                "%",
            ),
            key="crowd_bars",
        )

    ids = tuple(z.id for z in ctx.venue.zones)
    series = cache.series(ctx.store_url, "crowd", "occupancy", ids, now, window_s)
    capacity = {z.id: z.capacity for z in ctx.venue.zones}
    if len(series):
        series = series.assign(value=series["value"] / series["sensor_id"].map(capacity) * 100)
    names = {z.id: z.name or z.id for z in ctx.venue.zones}
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
            "Occupancy over time, % of capacity",
            "%",
            bands=bands,
            lines=lines,
            timezone=ctx.tz,
        ),
        key="crowd_series",
    )
    st.subheader("Zones")
    ui.table(zones, ZONE_COLUMNS)
    st.subheader("Gate flow (persons per metre of width per minute)")
    if len(gates):
        st.plotly_chart(
            charts.bar_chart(
                list(gates["name"]),
                list(gates["flow_per_m_min"].fillna(0)),
                [charts.COLOURS[s] for s in gates["status"]],
                f"Gate flow ({_gate_limits(ctx)})",
                "persons / m / min",
            ),
            key="gate_bars",
        )
        ui.table(gates, GATE_COLUMNS)


context = ui.context()
st.title("Crowd")
window = ui.window_picker("crowd_window")
live(context, window)
