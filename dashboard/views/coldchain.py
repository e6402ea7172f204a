"""Cold chain: temperatures with limit bands per unit type, and danger-zone time per unit."""

from __future__ import annotations

import streamlit as st

from dashboard import cache, charts, limits, ui

TABLE = ["name", "vendor", "type", "temp_c", "danger_zone_min", "door_open", "status", "age_s"]
TYPES = {"fridge": "Fridges", "freezer": "Freezers", "hot_holding": "Hot holding"}


def _danger_caption(ctx: ui.Context) -> str:
    """What the danger-zone column counts; units held to other limits than most are named."""
    zones = {
        u.id: limits.danger_zone(ctx.time_in_range(u.id))
        for u in ctx.venue.catering
        if u.type != "freezer"
    }
    names = {u.id: u.name or u.id for u in ctx.venue.catering}
    parts = []
    for i, (zone, ids) in enumerate(limits.grouped(zones)):
        text = "not counted" if zone is None else zone.text()
        parts.append(text if i == 0 else f"{', '.join(names[u] for u in ids)}: {text}")
    return f"Danger-zone time: minutes in the last 24 h {'; '.join(parts)}."


@st.fragment(run_every=ui.REFRESH_S)
def live(ctx: ui.Context, types: tuple[str, ...], window_s: float) -> None:
    """Table and one chart per unit type, refreshed in place."""
    now = ui.now_s()
    key = (ctx.store_url, ctx.venue_path, ctx.venue_mtime)
    age = cache.data_age(*key, ("coldchain",), now, ctx.settings.dashboard_stale_s)
    table = cache.frame(*key, "units", now, ctx.rules_file)
    ui.drill_banner(age.drill)
    ui.freshness(age, ctx.tz)
    ui.table(table, TABLE)
    st.caption(_danger_caption(ctx))
    for unit_type in types:
        units = [u for u in ctx.venue.catering if u.type == unit_type]
        if not units:
            continue
        ids = tuple(u.id for u in units)
        series = cache.series(ctx.store_url, "coldchain", "temp_c", ids, now, window_s)
        names = {u.id: u.name or u.id for u in units}
        bands, lines = ui.band_marks(
            {u.id: limits.temperature_band(u, ctx.levels(u.id)) for u in units},
            names,
            lambda _, v: f"{v:g} °C",
        )
        st.plotly_chart(
            charts.series_chart(
                series,
                names,
                f"{TYPES[unit_type]}: temperature",
                "°C",
                bands,
                lines,
                timezone=ctx.tz,
            ),
            key=f"cold_{unit_type}",
        )


context = ui.context()
st.title("Cold chain")
picked = st.multiselect(
    "Unit types", list(TYPES), default=list(TYPES), format_func=lambda t: TYPES[t], key="cold_types"
)
window = ui.window_picker("cold_window")
live(context, tuple(picked), window)
