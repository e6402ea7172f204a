"""Power: voltage, frequency and load per generator with the threshold bands drawn."""

from __future__ import annotations

import streamlit as st

from dashboard import cache, charts, limits, ui
from opsroom.venue import Generator

TABLE = ["name", "voltage_v", "frequency_hz", "power_kw", "load_pct", "fuel_pct", "status", "age_s"]
RED = charts.COLOURS["critical"]
AMBER = charts.COLOURS["warning"]


def _bands(gens: list[Generator], field: str) -> tuple[list[charts.Band], list[charts.Line]]:
    """Out-of-limit bands and level lines for the chosen generators' distinct nominal values."""
    bands: list[charts.Band] = []
    lines: list[charts.Line] = []
    if field in ("voltage_v", "frequency_hz"):
        # a band pair per distinct nominal value among the chosen generators
        band_of = limits.voltage_band if field == "voltage_v" else limits.frequency_band
        labels = ("-15 %", "+10 %") if field == "voltage_v" else ("-2 %", "+2 %")
        seen: set[tuple[float | None, float | None]] = set()
        for g in gens:
            b = band_of(g)
            if b.crit_low is None or b.crit_high is None or (b.crit_low, b.crit_high) in seen:
                continue
            seen.add((b.crit_low, b.crit_high))
            bands += [(None, b.crit_low, RED), (b.crit_high, None, RED)]
            lines += [(b.crit_low, RED, labels[0]), (b.crit_high, RED, labels[1])]
    else:
        bands = [(limits.LOAD_CRIT * 100, None, RED)]
        lines = [
            (limits.LOAD_WARN * 100, AMBER, "80 % of rated kVA x pf"),
            (limits.LOAD_CRIT * 100, RED, "95 %"),
        ]
    return bands, lines


@st.fragment(run_every=ui.REFRESH_S)
def live(ctx: ui.Context, chosen: tuple[str, ...], window_s: float) -> None:
    """Charts and table, refreshed in place."""
    now = ui.now_s()
    key = (ctx.store_url, ctx.venue_path, ctx.venue_mtime)
    age = cache.data_age(*key, ("power",), now, ctx.settings.dashboard_stale_s)
    table = cache.frame(*key, "generators", now)
    ui.drill_banner(age.drill)
    ui.freshness(age, ctx.tz)
    ui.table(table, TABLE)

    gens = [g for g in ctx.venue.generators if g.id in chosen]
    if not gens:
        st.info("Choose at least one generator.")
        return
    names = {g.id: g.name or g.id for g in gens}
    ids = tuple(g.id for g in gens)
    for field, title, unit in (
        ("voltage_v", "Voltage (limits +10 / -15 % of nominal)", "V"),
        ("frequency_hz", "Frequency (limits ±2 % of nominal)", "Hz"),
        ("power_kw", "Load, % of rated kW (kVA x power factor)", "%"),
    ):
        series = cache.series(ctx.store_url, "power", field, ids, now, window_s)
        if field == "power_kw" and len(series):
            rated = {g.id: limits.rated_kw(g) for g in gens}
            series = series.assign(value=series["value"] / series["sensor_id"].map(rated) * 100)
        bands, lines = _bands(gens, field)
        st.plotly_chart(
            charts.series_chart(series, names, title, unit, bands, lines, timezone=ctx.tz),
            key=f"power_{field}",
        )


context = ui.context()
st.title("Power")
all_ids = [g.id for g in context.venue.generators]
labels = {g.id: g.name or g.id for g in context.venue.generators}
picked = st.multiselect(
    "Generators", all_ids, default=all_ids, format_func=lambda i: labels[i], key="power_generators"
)
window = ui.window_picker("power_window")
live(context, tuple(picked), window)
