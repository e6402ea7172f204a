"""Power: voltage, frequency and load per generator with the threshold bands drawn."""

from __future__ import annotations

import streamlit as st

from dashboard import cache, charts, limits, ui
from opsroom.families.power import Generator

TABLE = ["name", "voltage_v", "frequency_hz", "power_kw", "load_pct", "fuel_pct", "status", "age_s"]


def _bands(
    ctx: ui.Context, gens: list[Generator], field: str
) -> tuple[list[charts.Band], list[charts.Line]]:
    """Out-of-limit bands and level lines for the chosen generators' distinct limits.

    Volts and hertz lines are labelled in % from the generator's nominal; load is charted
    (and banded) in % of rated kW.
    """
    names = {g.id: g.name or g.id for g in gens}
    if field == "power_kw":
        load = {
            g.id: limits.load_band(g, ctx.levels(g.id)).scaled(100 / limits.rated_kw(g))
            for g in gens
        }
        return ui.band_marks(load, names, lambda _, pct: f"{pct:g} %", shade_warning=False)
    bands, nominal = _limits(ctx, gens, field)
    return ui.band_marks(
        bands, names, lambda gid, v: f"{(v / nominal[gid] - 1) * 100:+.0f} %", shade_warning=False
    )


def _limits(
    ctx: ui.Context, gens: list[Generator], field: str
) -> tuple[dict[str, limits.Band], dict[str, float]]:
    """Each generator's volts or hertz band, and its nominal value."""
    if field == "voltage_v":
        bands = {g.id: limits.voltage_band(g, ctx.levels(g.id)) for g in gens}
        return bands, {g.id: float(g.nominal_v) for g in gens}
    bands = {g.id: limits.frequency_band(g, ctx.levels(g.id)) for g in gens}
    return bands, {g.id: float(g.nominal_hz) for g in gens}


def _title(ctx: ui.Context, gens: list[Generator], field: str, what: str) -> str:
    """E.g. 'Voltage (limits +10 / -15 % of nominal)', for the limits most generators share."""
    bands, nominal = _limits(ctx, gens, field)
    band, ids = limits.grouped(bands)[0]
    levels = {
        v for v in (band.warn_high, band.crit_high, band.warn_low, band.crit_low) if v is not None
    }
    pcts = [f"{(v / nominal[ids[0]] - 1) * 100:+.0f}" for v in sorted(levels, reverse=True)]
    return f"{what} (limits {' / '.join(pcts)} % of nominal)" if pcts else f"{what} (no limits)"


@st.fragment(run_every=ui.REFRESH_S)
def live(ctx: ui.Context, chosen: tuple[str, ...], window_s: float) -> None:
    """Charts and table, refreshed in place."""
    now = ui.now_s()
    key = (ctx.store_url, ctx.venue_path, ctx.venue_mtime)
    age = cache.data_age(*key, ("power",), now, ctx.settings.dashboard_stale_s)
    table = cache.frame(*key, "generators", now, ctx.rules_file)
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
        ("voltage_v", _title(ctx, gens, "voltage_v", "Voltage"), "V"),
        ("frequency_hz", _title(ctx, gens, "frequency_hz", "Frequency"), "Hz"),
        ("power_kw", "Load, % of rated kW (kVA x power factor)", "%"),
    ):
        series = cache.series(ctx.store_url, "power", field, ids, now, window_s)
        if field == "power_kw" and len(series):
            rated = {g.id: limits.rated_kw(g) for g in gens}
            series = series.assign(value=series["value"] / series["sensor_id"].map(rated) * 100)
        bands, lines = _bands(ctx, gens, field)
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
