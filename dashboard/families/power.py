"""Power: voltage, frequency and load per generator with the threshold bands drawn.

The family's dashboard part: its tables (pure queries) on top, its page below.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard import auth, cache, charts, lang, limits, ui
from dashboard.lang import _
from dashboard.queries import (
    Thresholds,
    _age,
    _alerts_by_subject,
    _frame,
    _latest,
    _num,
    derived,
    levels_of,
)
from dashboard.tables import Table, TableInputs
from opsroom.alerts import AlertEvent
from opsroom.families.power import FAMILY, Generator
from opsroom.store import Store
from opsroom.venue import Venue

TABLE = ["name", "voltage_v", "frequency_hz", "power_kw", "load_pct", "fuel_pct", "status", "age_s"]

ICON = ":material/bolt:"
# the charted fields, read together (one store query for the three charts)
FIELDS = ("voltage_v", "frequency_hz", "power_kw")

# ---------------------------------------------------------------- tables


def generators_frame(
    store: Store,
    venue: Venue,
    now: datetime,
    active: Sequence[AlertEvent] = (),
    thresholds: Thresholds | None = None,
) -> pd.DataFrame:
    """One row per generator: volts, hertz, kW and load against rating, status and age."""
    latest = _latest(store, venue, "power")
    alerts = _alerts_by_subject(active, "power")
    rows = []
    for g in venue.generators:
        r = latest.get(g.id)
        values = r.values if r else {}
        volts, hertz, kw = (_num(values.get(f)) for f in ("voltage_v", "frequency_hz", "power_kw"))
        rated = limits.rated_kw(g)
        # the rules' load: the larger of kW over rated kW and V x I over rated kVA
        load = derived("load_pct", g, values) if r else None
        load_kw = None if load is None else load / 100 * rated  # on the kW band's scale
        levels = levels_of(thresholds, g.id)
        status = limits.worst(
            *(
                s
                for s in (
                    limits.voltage_band(g, levels).status(volts),
                    limits.frequency_band(g, levels).status(hertz),
                    limits.load_band(g, levels).status(load_kw),
                )
                if s != "nodata"
            ),
            alerts.get(g.id, "ok"),
        )
        rows.append(
            {
                "id": g.id,
                "name": g.name or g.id,
                "rated_kva": g.rated_kva,
                "rated_kw": rated,
                "nominal_v": g.nominal_v,
                "nominal_hz": float(g.nominal_hz),
                "voltage_v": volts,
                "frequency_hz": hertz,
                "power_kw": kw,
                "load_pct": load,
                "fuel_pct": _num(values.get("fuel_pct")),
                "status": status if r else "nodata",
                "ts": r.ts if r else None,
                "age_s": _age(now, r),
                "drill": bool(r and r.drill),
            }
        )
    return _frame(rows)


def _generators(t: TableInputs) -> pd.DataFrame:
    return generators_frame(t.store, t.venue, t.now, t.active, t.thresholds)


TABLES: dict[str, Table] = {"generators": _generators}


# ---------------------------------------------------------------- page


def _bands(
    ctx: ui.Context, gens: list[Generator], field: str
) -> tuple[list[charts.Band], list[charts.Line]]:
    """Out-of-limit bands and level lines for the chosen generators' distinct limits.

    Volts and hertz lines are labelled in % from the generator's nominal; load is charted
    (and banded) in % of rated kW.
    """
    names = lang.names(gens)
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
    if not pcts:
        return _("{what} (no limits)", what=what)
    return _("{what} (limits {levels} % of nominal)", what=what, levels=" / ".join(pcts))


@st.fragment(run_every=ui.FAMILY_REFRESH_S)
def live(ctx: ui.Context) -> None:
    """Freshness and the table, refreshed in place."""
    now = ui.now_s()
    key = (ctx.store_url, ctx.venue_path, ctx.venue_mtime)
    age = cache.data_age(*key, ("power",), now, ctx.settings.dashboard_stale_s)
    table = ctx.table("generators", now)
    ui.drill_banner(age.drill)
    ui.freshness(age, ctx.tz)
    ui.table(table, TABLE)


@st.fragment(run_every=ui.CHART_REFRESH_S)
def live_charts(ctx: ui.Context, chosen: tuple[str, ...], window_s: float) -> None:
    """Voltage, frequency and load of the chosen generators, redrawn in place."""
    now = ui.now_s()
    gens = [g for g in ctx.venue.generators if g.id in chosen]
    if not gens:
        st.info(_("Choose at least one generator."))
        return
    names = lang.names(gens)
    ids = tuple(g.id for g in gens)
    charted = cache.series_many(ctx.store_url, "power", FIELDS, ids, now, window_s)
    for field, title, unit in (
        ("voltage_v", _title(ctx, gens, "voltage_v", _("Voltage")), "V"),
        ("frequency_hz", _title(ctx, gens, "frequency_hz", _("Frequency")), "Hz"),
        ("power_kw", _("Load, % of rated kW (kVA x power factor)"), "%"),
    ):
        series = charted[field]
        if field == "power_kw" and len(series):
            rated = {g.id: limits.rated_kw(g) for g in gens}
            series = series.assign(value=series["value"] / series["sensor_id"].map(rated) * 100)
        bands, lines = _bands(ctx, gens, field)
        st.plotly_chart(
            charts.series_chart(series, names, title, unit, bands, lines, timezone=ctx.tz),
            key=f"power_{field}",
        )
    ui.charts_note(ui.FAMILY_REFRESH_S)


def page() -> None:
    """The family's page (Streamlit runs this file as a script)."""
    context = ui.context()
    st.title(_(FAMILY.title))
    all_ids = [g.id for g in context.venue.generators]
    labels = lang.names(context.venue.generators)
    picked = all_ids
    if not auth.kiosk():  # the wall screen has no controls: every generator
        picked = st.multiselect(
            _("Generators"),
            all_ids,
            default=all_ids,
            format_func=lambda i: labels[i],
            key="power_generators",
        )
    window = ui.window_picker("power_window")
    live(context)
    live_charts(context, tuple(picked), window)


if __name__ == "__main__":
    page()
