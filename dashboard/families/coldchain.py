"""Cold chain: temperatures with limit bands per unit type, and danger-zone time per unit.

The family's dashboard part: its tables (pure queries) on top, its page below.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard import auth, cache, charts, lang, limits, ui
from dashboard.lang import N_, _
from dashboard.queries import (
    HourSlice,
    Thresholds,
    _age,
    _alerts_by_subject,
    _frame,
    _latest,
    _num,
    levels_of,
    sliced_series,
)
from dashboard.tables import Table, TableInputs
from opsroom.alerts import AlertEvent
from opsroom.families.coldchain import FAMILY
from opsroom.store import Store
from opsroom.venue import Venue

TABLE = ["name", "vendor", "type", "temp_c", "danger_zone_min", "door_open", "status", "age_s"]
TYPES = {"fridge": N_("Fridges"), "freezer": N_("Freezers"), "hot_holding": N_("Hot holding")}

ICON = ":material/kitchen:"

# ---------------------------------------------------------------- tables


DANGER_EVERY = timedelta(minutes=5)


def danger_zone_minutes(
    store: Store,
    sensor_ids: Collection[str],
    now: datetime,
    window: timedelta = timedelta(hours=24),
    closed_hour: HourSlice | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, float]:
    """Minutes each unit spent in its danger zone in the last `window` (5-minute means).

    The zone is the unit's (low, high) in `ranges`, else the shipped rules' (5 to 60 °C).
    """
    out = dict.fromkeys(sensor_ids, 0.0)
    if not sensor_ids:
        return out
    frame = sliced_series(
        store, "coldchain", "temp_c", sensor_ids, now - window, now, DANGER_EVERY, closed_hour
    )
    shipped = limits.default_danger_zone()
    default = (shipped.low, shipped.high) if shipped is not None else (math.inf, -math.inf)
    low = frame["sensor_id"].map(lambda sid: (ranges or {}).get(sid, default)[0])
    high = frame["sensor_id"].map(lambda sid: (ranges or {}).get(sid, default)[1])
    inside = frame[(frame["value"] > low) & (frame["value"] < high)]
    step = DANGER_EVERY.total_seconds() / 60
    for sid, n in inside["sensor_id"].value_counts().items():
        out[str(sid)] = n * step
    return out


def units_frame(
    store: Store,
    venue: Venue,
    now: datetime,
    active: Sequence[AlertEvent] = (),
    danger: dict[str, float] | None = None,
    thresholds: Thresholds | None = None,
    danger_zones: Mapping[str, limits.DangerZone | None] | None = None,
) -> pd.DataFrame:
    """One row per catering unit: temperature against its limits, status and age.

    `danger` (from danger_zone_minutes) adds the danger-zone time of fridges and hot holding,
    judged by each unit's zone in `danger_zones` (None: not watched), else the default.
    """
    latest = _latest(store, venue, "coldchain")
    alerts = _alerts_by_subject(active, "coldchain")
    rows = []
    for u in venue.catering:
        r = latest.get(u.id)
        values = r.values if r else {}
        temp = _num(values.get("temp_c"))
        band = limits.temperature_band(u, levels_of(thresholds, u.id))
        minutes = (danger or {}).get(u.id) if u.type != "freezer" else None
        zone = (danger_zones or {}).get(u.id, limits.default_danger_zone())
        danger_status = "ok" if zone is None else zone.status(minutes)
        status = limits.worst(band.status(temp), danger_status, alerts.get(u.id, "ok"))
        rows.append(
            {
                "id": u.id,
                "name": u.name or u.id,
                "type": u.type,
                "vendor": u.vendor,
                "temp_c": temp,
                "limit_warn": band.warn_high,
                "limit_crit": band.crit_high if band.crit_high is not None else band.crit_low,
                "danger_zone_min": minutes,
                "door_open": values.get("door_open"),
                "battery_pct": _num(values.get("battery_pct")),
                "status": status if r else "nodata",
                "ts": r.ts if r else None,
                "age_s": _age(now, r),
                "drill": bool(r and r.drill),
            }
        )
    return _frame(rows)


def _units(t: TableInputs) -> pd.DataFrame:
    ranges = t.time_ranges()
    zones = {
        u.id: limits.danger_zone(None if ranges is None else ranges.get(u.id, {}))
        for u in t.venue.catering
        if u.type != "freezer"
    }
    ids = tuple(i for i, zone in zones.items() if zone is not None)
    danger = danger_zone_minutes(
        t.store,
        ids,
        t.now,
        closed_hour=t.closed(FAMILY.kind, "temp_c", ids, DANGER_EVERY),
        ranges={i: (zone.low, zone.high) for i, zone in zones.items() if zone is not None},
    )
    return units_frame(t.store, t.venue, t.now, t.active, danger, t.thresholds, zones)


TABLES: dict[str, Table] = {"units": _units}


# ---------------------------------------------------------------- page


def _danger_caption(ctx: ui.Context) -> str:
    """What the danger-zone column counts; units held to other limits than most are named."""
    zones = {
        u.id: limits.danger_zone(ctx.time_in_range(u.id))
        for u in ctx.venue.catering
        if u.type != "freezer"
    }
    names = lang.names(ctx.venue.catering)
    parts = []
    for i, (zone, ids) in enumerate(limits.grouped(zones)):
        text = _("not counted") if zone is None else zone.text()
        parts.append(text if i == 0 else f"{', '.join(names[u] for u in ids)}: {text}")
    return _("Danger-zone time: minutes in the last 24 h {ranges}.", ranges="; ".join(parts))


@st.fragment(run_every=ui.FAMILY_REFRESH_S)
def live(ctx: ui.Context) -> None:
    """Freshness and the table, refreshed in place."""
    now = ui.now_s()
    key = (ctx.store_url, ctx.venue_path, ctx.venue_mtime)
    age = cache.data_age(*key, ("coldchain",), now, ctx.settings.dashboard_stale_s)
    table = ctx.table("units", now)
    ui.drill_banner(age.drill)
    ui.freshness(age, ctx.tz)
    ui.table(table, TABLE)
    st.caption(_danger_caption(ctx))


@st.fragment(run_every=ui.CHART_REFRESH_S)
def live_charts(ctx: ui.Context, types: tuple[str, ...], window_s: float) -> None:
    """One temperature chart per unit type, redrawn in place."""
    now = ui.now_s()
    for unit_type in types:
        units = [u for u in ctx.venue.catering if u.type == unit_type]
        if not units:
            continue
        ids = tuple(u.id for u in units)
        series = cache.series(ctx.store_url, "coldchain", "temp_c", ids, now, window_s)
        names = lang.names(units)
        bands, lines = ui.band_marks(
            {u.id: limits.temperature_band(u, ctx.levels(u.id)) for u in units},
            names,
            lambda _, v: f"{v:g} °C",
        )
        st.plotly_chart(
            charts.series_chart(
                series,
                names,
                _("{unit_type}: temperature", unit_type=_(TYPES[unit_type])),
                "°C",
                bands,
                lines,
                timezone=ctx.tz,
            ),
            key=f"cold_{unit_type}",
        )
    ui.charts_note(ui.FAMILY_REFRESH_S)


def page() -> None:
    """The family's page (Streamlit runs this file as a script)."""
    context = ui.context()
    st.title(_(FAMILY.title))
    picked = list(TYPES)
    if not auth.kiosk():  # the wall screen has no controls: every unit type
        picked = st.multiselect(
            _("Unit types"),
            list(TYPES),
            default=list(TYPES),
            format_func=lambda t: _(TYPES[t]),
            key="cold_types",
        )
    window = ui.window_picker("cold_window")
    live(context)
    live_charts(context, tuple(picked), window)


if __name__ == "__main__":
    page()
