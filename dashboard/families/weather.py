"""Weather: gust and lightning distance over time, the structures' wind limits as bands.

The family's dashboard part: its tables (pure queries) on top, its page below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import cache, charts, lang, limits, ui
from dashboard.lang import _
from dashboard.queries import _age, _alerts_by_subject, _frame, _latest, _num
from dashboard.tables import Table, TableInputs
from opsroom.alerts import AlertEvent
from opsroom.families.weather import FAMILY, heat_index_c, nearest_station
from opsroom.store import Store
from opsroom.venue import Venue

TABLE = ["name", "gust_ms", "wind_ms", "strike_km", "air_temp_c", "heat_index_c", "status"]
STRUCTURES_TABLE = ["name", "type", "station", "gust_ms", "operating_gust_ms", "evacuate_gust_ms"]
HISTORY = timedelta(hours=3)

ICON = ":material/thunderstorm:"

# ---------------------------------------------------------------- tables


def stations_frame(
    store: Store, venue: Venue, now: datetime, active: Sequence[AlertEvent] = ()
) -> pd.DataFrame:
    """One row per weather station: its latest wind, lightning, temperature; alert status."""
    latest = _latest(store, venue, "weather")
    alerts = _alerts_by_subject(active, "weather")
    rows = []
    for s in venue.stations:
        r = latest.get(s.id)
        values = r.values if r else {}
        temp, rh = _num(values.get("air_temp_c")), _num(values.get("humidity_pct"))
        rows.append(
            {
                "id": s.id,
                "name": s.name or s.id,
                "lat": s.location[0],
                "lon": s.location[1],
                "wind_ms": _num(values.get("wind_ms")),
                "gust_ms": _num(values.get("gust_ms")),
                "strike_km": _num(values.get("strike_km")),
                "air_temp_c": temp,
                "heat_index_c": None if temp is None or rh is None else heat_index_c(temp, rh),
                "status": alerts.get(s.id, "ok") if r else "nodata",
                "ts": r.ts if r else None,
                "age_s": _age(now, r),
                "drill": bool(r and r.drill),
            }
        )
    return _frame(rows)


def structures_frame(
    store: Store, venue: Venue, now: datetime, active: Sequence[AlertEvent] = ()
) -> pd.DataFrame:
    """One row per structure: its nearest station's gust against the structure's limits, and
    the structure's own wind alerts (the rules raise them per structure)."""
    latest = _latest(store, venue, "weather")
    alerts = _alerts_by_subject(active, "weather")
    rows = []
    for s in venue.structures:
        station = nearest_station(s, venue.stations)
        r = latest.get(station.id) if station else None
        gust = _num(r.values.get("gust_ms")) if r else None
        status = "nodata"
        if gust is not None:
            status = (
                "critical"
                if gust > s.evacuate_gust_ms
                else "warning"
                if gust > s.operating_gust_ms
                else "ok"
            )
        if s.id in alerts:
            status = limits.worst(status if status != "nodata" else "ok", alerts[s.id])
        rows.append(
            {
                "id": s.id,
                "name": s.name or s.id,
                "type": s.type,
                "lat": s.location[0],
                "lon": s.location[1],
                "station": station.id if station else None,
                "gust_ms": gust,
                "operating_gust_ms": s.operating_gust_ms,
                "evacuate_gust_ms": s.evacuate_gust_ms,
                "status": status,
            }
        )
    return _frame(rows)


def _stations(t: TableInputs) -> pd.DataFrame:
    return stations_frame(t.store, t.venue, t.now, t.active)


def _structures(t: TableInputs) -> pd.DataFrame:
    return structures_frame(t.store, t.venue, t.now, t.active)


TABLES: dict[str, Table] = {"stations": _stations, "structures": _structures}


def map_layer(venue_map: charts.VenueMap, table: Callable[[str], pd.DataFrame]) -> None:
    """The weather stations and the structures with wind limits, by status, on the venue map."""
    stations = table("stations")
    if len(stations):
        stations = stations.assign(
            hover=[
                _(
                    "{name}: gust {gust}, lightning {strike}",
                    name=r.name,
                    gust=_fmt(r.gust_ms, "m/s"),
                    strike=_fmt(r.strike_km, "km"),
                )
                for r in stations.itertuples()
            ]
        )
    structures = table("structures")
    if len(structures):
        structures = structures.assign(
            hover=[
                _(
                    "{name} ({type}): limits {operate} / {evacuate} m/s, wind from {station}",
                    name=r.name,
                    type=r.type,
                    operate=f"{r.operating_gust_ms:g}",
                    evacuate=f"{r.evacuate_gust_ms:g}",
                    station=r.station,
                )
                for r in structures.itertuples()
            ]
        )
    venue_map.points(stations, _("Weather stations"), "triangle-up")
    venue_map.points(structures, _("Structures (wind limits)"), "diamond")


def _fmt(value: float | None, unit: str) -> str:
    return _("no data") if value is None or pd.isna(value) else f"{value:.1f} {unit}"


# ---------------------------------------------------------------- page


def _chart(history: pd.DataFrame, title: str, unit: str, bands: pd.DataFrame | None) -> go.Figure:
    fig = go.Figure()
    for station, rows in history.groupby("sensor_id") if len(history) else ():
        fig.add_trace(go.Scatter(x=rows["ts"], y=rows["value"], name=str(station), mode="lines"))
    if bands is not None:
        for row in bands.itertuples():
            fig.add_hrect(
                y0=row.operating_gust_ms,
                y1=row.evacuate_gust_ms,
                fillcolor="orange",
                opacity=0.15,
                line_width=0,
                annotation_text=_("{name}: operate / evacuate", name=row.name),
            )
    fig.update_layout(title=title, yaxis_title=unit, height=320, xaxis=lang.time_axis())
    return fig


def _tables(ctx: ui.Context, now: float) -> dict[str, pd.DataFrame]:
    return {name: ctx.table(name, now) for name in ("stations", "structures")}


@st.fragment(run_every=ui.FAMILY_REFRESH_S)
def live(ctx: ui.Context) -> None:
    """Freshness, stations and structures, refreshed in place."""
    now = ui.now_s()
    key = (ctx.store_url, ctx.venue_path, ctx.venue_mtime)
    age = cache.data_age(*key, ("weather",), now, ctx.settings.dashboard_stale_s)
    tables = _tables(ctx, now)
    ui.drill_banner(age.drill)
    ui.freshness(age, ctx.tz)
    ui.table(tables["stations"], TABLE)
    ui.table(tables["structures"], STRUCTURES_TABLE)


@st.fragment(run_every=ui.CHART_REFRESH_S)
def live_charts(ctx: ui.Context) -> None:
    """Gusts, lightning and the map, redrawn in place."""
    now = ui.now_s()
    tables = _tables(ctx, now)
    structures = tables["structures"]
    ids = tuple(s.id for s in ctx.venue.stations)
    charted = cache.series_many(
        ctx.store_url, "weather", ("gust_ms", "strike_km"), ids, now, HISTORY.total_seconds()
    )
    gusts, strikes = charted["gust_ms"], charted["strike_km"]
    st.plotly_chart(_chart(gusts, _("Wind gust"), "m/s", structures), key="weather_gust")
    st.plotly_chart(
        _chart(strikes, _("Nearest lightning strike"), "km", None), key="weather_lightning"
    )
    venue_map = charts.VenueMap(ctx.venue, ctx.settings.dashboard_tiles).zones(names=False)
    map_layer(venue_map, tables.__getitem__)
    st.plotly_chart(venue_map.figure(height=420), key="weather_map")
    ui.charts_note(ui.FAMILY_REFRESH_S)


def page() -> None:
    """The family's page (Streamlit runs this file as a script)."""
    context = ui.context()
    st.title(_(FAMILY.title))
    live(context)
    live_charts(context)


if __name__ == "__main__":
    page()
