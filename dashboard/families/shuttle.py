"""Shuttles: the map with routes, stops and vehicles; stopped or off-route buses marked.

The family's dashboard part: its tables (pure queries) on top, its page below.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard import cache, charts, limits, ui
from dashboard.lang import _
from dashboard.queries import (
    FUTURE_SLACK,
    Thresholds,
    _age,
    _alerts_by_subject,
    _frame,
    _latest,
    _num,
    levels_of,
)
from dashboard.tables import Table, TableInputs
from opsroom.alerts import AlertEvent
from opsroom.families.shuttle import FAMILY
from opsroom.geo import Points, Polyline
from opsroom.store import Store
from opsroom.venue import Venue

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

ICON = ":material/directions_bus:"

# ---------------------------------------------------------------- tables


def shuttles_frame(
    store: Store,
    venue: Venue,
    now: datetime,
    active: Sequence[AlertEvent] = (),
    thresholds: Thresholds | None = None,
) -> pd.DataFrame:
    """One row per shuttle: position, speed, load, distance off its route, stopped or not.

    Off route: farther than the route's corridor from its path. Stopped: by the shipped
    stopped rule (no speed of 3 km/h or more for 5 minutes, farther than 50 m from any stop).
    """
    rule = limits.stopped_rule()
    stopped_for = timedelta(seconds=rule.hold)
    latest = _latest(store, venue, "shuttle")
    ids = [s.id for s in venue.shuttles]
    recent_max: dict[str, float] = {}
    first_seen: dict[str, datetime] = {}
    if ids:
        for p in store.series("shuttle", "speed_kmh", ids, now - stopped_for, now + FUTURE_SLACK):
            recent_max[p.sensor_id] = max(recent_max.get(p.sensor_id, 0.0), p.value)
            first_seen.setdefault(p.sensor_id, p.ts)
    alerts = _alerts_by_subject(active, "shuttle")
    routes = {r.id: r for r in venue.routes}
    lines = {r.id: Polyline(r.geometry()) for r in venue.routes}
    stops = {r.id: Points([(s.lat, s.lon) for s in r.stops]) for r in venue.routes if r.stops}
    rows = []
    for bus in venue.shuttles:
        r = latest.get(bus.id)
        route = routes[bus.route]
        values = r.values if r else {}
        lat, lon, speed = (_num(values.get(f)) for f in ("lat", "lon", "speed_kmh"))
        off_m = stopped = None
        if lat is not None and lon is not None:
            off_m = lines[route.id].distance_m(lat, lon)
            route_stops = stops.get(route.id)
            # stopped needs 5 minutes of slow readings behind it, not one slow fix
            covered = first_seen.get(bus.id)
            stopped = (
                covered is not None
                and r is not None
                and (r.ts - covered) >= stopped_for * 0.9
                and recent_max.get(bus.id, math.inf) < rule.below_kmh
                and (route_stops is None or route_stops.nearest_m(lat, lon) > rule.stop_radius_m)
            )
        off_route = off_m is not None and off_m > route.corridor_m
        speeding = limits.speed_band(route, levels_of(thresholds, bus.id)).status(speed)
        status = limits.worst(
            "warning" if off_route or stopped else "ok",
            "ok" if speeding == "nodata" else speeding,
            alerts.get(bus.id, "ok"),
        )
        passengers = _num(values.get("passengers"))
        rows.append(
            {
                "id": bus.id,
                "name": bus.name or bus.id,
                "route": route.name or route.id,
                "lat": lat,
                "lon": lon,
                "speed_kmh": speed,
                "passengers": passengers,
                "seats": bus.seats,
                "off_route_m": off_m,
                "off_route": off_route,
                "stopped": bool(stopped),
                "status": status if r else "nodata",
                "ts": r.ts if r else None,
                "age_s": _age(now, r),
                "drill": bool(r and r.drill),
            }
        )
    return _frame(rows)


def _shuttles(t: TableInputs) -> pd.DataFrame:
    return shuttles_frame(t.store, t.venue, t.now, t.active, t.thresholds)


TABLES: dict[str, Table] = {"shuttles": _shuttles}


def map_layer(venue_map: charts.VenueMap, table: Callable[[str], pd.DataFrame]) -> None:
    """The routes with their stops, and the shuttles by status, on the venue map."""
    venue_map.routes().vehicles(table("shuttles"))


# ---------------------------------------------------------------- page


@st.fragment(run_every=ui.FAMILY_REFRESH_S)
def live(ctx: ui.Context) -> None:
    """Freshness, the flagged shuttles and the table, refreshed in place."""
    now = ui.now_s()
    key = (ctx.store_url, ctx.venue_path, ctx.venue_mtime)
    age = cache.data_age(*key, ("shuttle",), now, ctx.settings.dashboard_stale_s)
    buses = ctx.table("shuttles", now)
    ui.drill_banner(age.drill)
    ui.freshness(age, ctx.tz)
    flagged = buses[buses["off_route"] | buses["stopped"]] if len(buses) else buses
    for row in flagged.itertuples():
        st.warning(f"{row.name}: {charts.flags(row.off_route, row.stopped)} ({row.route})")
    ui.table(buses, TABLE)


@st.fragment(run_every=ui.CHART_REFRESH_S)
def live_map(ctx: ui.Context) -> None:
    """The routes and the shuttles on the venue map, redrawn in place."""
    fig = charts.VenueMap(ctx.venue, ctx.settings.dashboard_tiles).zones(names=False).routes()
    buses = ctx.table("shuttles", ui.now_s())
    st.plotly_chart(fig.vehicles(buses).figure(height=560), key="shuttle_map")
    ui.charts_note(ui.FAMILY_REFRESH_S)


def page() -> None:
    """The family's page (Streamlit runs this file as a script)."""
    context = ui.context()
    st.title(_(FAMILY.title))
    live(context)
    live_map(context)


if __name__ == "__main__":
    page()
