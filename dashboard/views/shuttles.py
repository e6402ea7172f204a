"""Shuttles: the map with routes, stops and vehicles; stopped or off-route buses marked."""

from __future__ import annotations

import streamlit as st

from dashboard import cache, charts, ui

TABLE = [
    "name",
    "route",
    "speed_kmh",
    "passengers",
    "seats",
    "off_route_m",
    "off_route",
    "stopped",
    "status",
    "age_s",
]


@st.fragment(run_every=ui.REFRESH_S)
def live(ctx: ui.Context) -> None:
    """Map and table, refreshed in place."""
    now = ui.now_s()
    key = (ctx.store_url, ctx.venue_path, ctx.venue_mtime)
    age = cache.data_age(*key, ("shuttle",), now, ctx.settings.dashboard_stale_s)
    buses = cache.frame(*key, "shuttles", now, ctx.rules_file)
    ui.drill_banner(age.drill)
    ui.freshness(age, ctx.tz)
    flagged = buses[buses["off_route"] | buses["stopped"]] if len(buses) else buses
    for row in flagged.itertuples():
        st.warning(f"{row.name}: {charts.flags(row.off_route, row.stopped)} ({row.route})")
    fig = charts.VenueMap(ctx.venue, ctx.settings.dashboard_tiles).zones(names=False).routes()
    st.plotly_chart(fig.vehicles(buses).figure(height=560), key="shuttle_map")
    ui.table(buses, TABLE)


context = ui.context()
st.title("Shuttles")
live(context)
