"""What the pages show, as pure functions: a Store, the venue and `now` in; DataFrames out.

Over 400 lines on purpose: one pure query per panel on the one Store protocol, kept together
while the event-scoping work edits them; split by page once that has landed.

Nothing here imports Streamlit, so every function is unit-tested against a real store. The
app caches them (dashboard/cache.py); bench/dashboard.py times them.

Only the venue's own sensors are shown: each entity's id is its sensor id.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from dashboard import limits
from opsroom.alerts import AlertEvent
from opsroom.geo import Points, Polyline
from opsroom.rulesfile.bands import Levels
from opsroom.rulesfile.subjects import Entity, subject_of
from opsroom.rulesfile.values import VALUES
from opsroom.store import Store, active_alerts
from opsroom.telemetry import FAMILIES, Reading, Value
from opsroom.venue import Venue

FAMILY_LABELS = {
    "crowd": "Crowd",
    "power": "Power",
    "coldchain": "Cold chain",
    "shuttle": "Shuttles",
}
# readings may be stamped a little ahead of the wall clock (ingest accepts up to 5 min)
FUTURE_SLACK = timedelta(minutes=5)
# how far back the alert history is read to find the alerts still active
ALERT_LOOKBACK = timedelta(days=7)
GATE_FLOW_WINDOW = timedelta(minutes=5)
# the fields charted around an alert, per family
ALERT_FIELDS = {
    "crowd": ("occupancy", "in", "out"),
    "power": ("voltage_v", "frequency_hz", "power_kw"),
    "coldchain": ("temp_c",),
    "shuttle": ("speed_kmh",),
}
_NICE_STEPS_S = (10, 30, 60, 120, 300, 600, 900, 1800, 3600)
HOUR = timedelta(hours=1)
# one closed hour of a series, bucketed: hour start -> frame (the app caches these)
HourSlice = Callable[[datetime], pd.DataFrame]
# entity id -> the threshold levels its rules hold it to (opsroom.rulesfile.bands)
Thresholds = Mapping[str, Levels]


# ---------------------------------------------------------------- time and freshness


def choose_every(window: timedelta, points: int = 240) -> timedelta | None:
    """The bucket for a chart of `window`: raw up to 15 min, else about `points` buckets."""
    if window <= timedelta(minutes=15):
        return None
    want = window.total_seconds() / points
    step = next((s for s in _NICE_STEPS_S if s >= want), _NICE_STEPS_S[-1])
    return timedelta(seconds=step)


@dataclass(frozen=True, slots=True)
class DataAge:
    """How fresh the shown data is: its newest timestamp, its age, stale or not, drill or not."""

    newest: datetime | None
    age_s: float | None
    stale: bool
    expected_every_s: float
    sensors: int
    drill: bool

    @property
    def text(self) -> str:
        """'12 s', '4 min', '3.2 h' or 'no data'."""
        return "no data" if self.age_s is None else human_age(self.age_s)


def human_age(seconds: float) -> str:
    """A short age: '12 s', '4 min', '3.2 h', '2.0 d'."""
    seconds = max(seconds, 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def venue_sensor_ids(venue: Venue, kind: str) -> list[str]:
    """The venue's sensor ids of one family."""
    return sorted(sid for (k, sid) in venue.sensors() if k == kind)


def _latest(store: Store, venue: Venue, kind: str) -> dict[str, Reading]:
    ids = venue_sensor_ids(venue, kind)
    if not ids:
        return {}
    return {r.sensor_id: r for r in store.latest(kind, ids)}


def data_age(
    store: Store, venue: Venue, kinds: Collection[str], now: datetime, stale_s: float
) -> DataAge:
    """Age of the newest reading of these families; stale when it is more than `stale_s` late.

    "Late" is measured against the newest reading expected: one report interval ago.
    """
    newest: datetime | None = None
    sensors = 0
    drill = False
    interval = 0.0
    for kind in kinds:
        interval = max(interval, FAMILIES[kind].report_interval.total_seconds())
        for r in _latest(store, venue, kind).values():
            sensors += 1
            drill = drill or r.drill
            if newest is None or r.ts > newest:
                newest = r.ts
    if newest is None:
        return DataAge(None, None, False, interval, 0, False)
    age = (now - newest).total_seconds()
    return DataAge(newest, age, age > interval + stale_s, interval, sensors, drill)


# ---------------------------------------------------------------- alerts


def alert_frame(events: Sequence[AlertEvent]) -> pd.DataFrame:
    """Alert events as a table, one row per event, in the given order."""
    columns = [
        "alert_id",
        "severity",
        "state",
        "kind",
        "subject",
        "rule",
        "message",
        "value",
        "ts",
        "started_at",
        "actor",
        "note",
        "drill",
    ]
    rows = [{c: getattr(e, c) for c in columns} for e in events]
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("ts", "started_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    frame["drill"] = frame["drill"].astype(bool)
    return frame


def active_alert_events(store: Store, now: datetime) -> list[AlertEvent]:
    """The latest event of each alert that is not resolved, newest first."""
    return active_alerts(store.alert_events(start=now - ALERT_LOOKBACK))


def active_alert_table(store: Store, now: datetime) -> pd.DataFrame:
    """Active alerts, critical first, then newest first."""
    frame = alert_frame(active_alert_events(store, now))
    order = {s: i for i, s in enumerate(("critical", "warning", "info"))}
    frame["_rank"] = frame["severity"].map(order)
    frame = frame.sort_values(["_rank", "ts"], ascending=[True, False], kind="stable")
    return frame.drop(columns="_rank").reset_index(drop=True)


def alert_counts(active: pd.DataFrame) -> dict[str, int]:
    """How many active alerts of each severity (every severity present, maybe 0)."""
    counts = active["severity"].value_counts() if len(active) else pd.Series(dtype=int)
    return {s: int(counts.get(s, 0)) for s in ("critical", "warning", "info")}


def alert_history(
    store: Store,
    start: datetime,
    end: datetime,
    *,
    severities: Collection[str] = (),
    states: Collection[str] = (),
    kinds: Collection[str] = (),
    text: str = "",
    drill: bool | None = None,
) -> pd.DataFrame:
    """Alert transitions in [start, end), newest first; empty filters let everything through."""
    frame = alert_frame(store.alert_events(start=start, end=end))
    if severities:
        frame = frame[frame["severity"].isin(list(severities))]
    if states:
        frame = frame[frame["state"].isin(list(states))]
    if kinds:
        frame = frame[frame["kind"].isin(list(kinds))]
    if drill is not None:
        frame = frame[frame["drill"] == drill]
    if text:
        needle = text.lower()
        hay = (frame["subject"] + " " + frame["rule"] + " " + frame["message"]).str.lower()
        frame = frame[hay.str.contains(needle, regex=False)]
    return frame.iloc[::-1].reset_index(drop=True)


def readings_around(
    store: Store,
    alert: AlertEvent,
    before: timedelta = timedelta(minutes=30),
    after: timedelta = timedelta(minutes=15),
) -> pd.DataFrame:
    """The subject's readings around an alert: from `before` its start to `after` its last event.

    Columns: field, ts, value (every field of the family the subject reported).
    """
    start = (alert.started_at or alert.ts) - before
    end = alert.ts + after
    frames = []
    for field in ALERT_FIELDS.get(alert.kind, ()):
        points = store.series(alert.kind, field, [alert.subject], start, end)
        if points:
            frames.append(
                pd.DataFrame(
                    {
                        "field": field,
                        "ts": [p.ts for p in points],
                        "value": [p.value for p in points],
                    }
                )
            )
    if not frames:
        return pd.DataFrame({"field": [], "ts": pd.to_datetime([], utc=True), "value": []})
    frame = pd.concat(frames, ignore_index=True)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def levels_of(thresholds: Thresholds | None, entity_id: str) -> Levels | None:
    """One entity's levels for limits.*_band: None without a rules file (the defaults)."""
    return None if thresholds is None else thresholds.get(entity_id, {})


def derived(
    name: str, entity: Entity, values: Mapping[str, Value], dt: float | None = None
) -> float | None:
    """A derived value of the rules (opsroom.rulesfile.values) for one entity's reading, as
    the rules service computes it; None when the reading lacks what it needs."""
    return VALUES[name].make(subject_of(entity))(values, dt)


def _alerts_by_subject(active: Sequence[AlertEvent], kind: str) -> dict[str, str]:
    """The worst active alert severity per subject of one family, as a status."""
    out: dict[str, str] = {}
    for a in active:
        if a.kind == kind and a.severity != "info":
            out[a.subject] = limits.worst(out.get(a.subject, "ok"), a.severity)
    return out


# ---------------------------------------------------------------- series


def series_frame(
    store: Store,
    kind: str,
    field: str,
    sensor_ids: Collection[str],
    start: datetime,
    end: datetime,
    every: timedelta | None = None,
) -> pd.DataFrame:
    """One field of some sensors over [start, end) as columns sensor_id, ts, value."""
    points = store.series(kind, field, list(sensor_ids), start, end, every) if sensor_ids else []
    frame = pd.DataFrame(
        {
            "sensor_id": [p.sensor_id for p in points],
            "ts": [p.ts for p in points],
            "value": [p.value for p in points],
        }
    )
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def _floor(ts: datetime, step: timedelta) -> datetime:
    seconds = step.total_seconds()
    return datetime.fromtimestamp(ts.timestamp() // seconds * seconds, ts.tzinfo)


def sliced_series(
    store: Store,
    kind: str,
    field: str,
    sensor_ids: Collection[str],
    start: datetime,
    now: datetime,
    every: timedelta,
    closed_hour: HourSlice | None = None,
) -> pd.DataFrame:
    """series_frame from `start` to just after `now`, fetched as whole hours plus the live one.

    Buckets align to the epoch and every chart step divides an hour, so cutting at whole
    hours changes no bucket: the hours before the current one never change and the app
    caches them (`closed_hour`), leaving one hour of readings to scan per refresh.
    """
    end = now + FUTURE_SLACK
    live_from = _floor(now, HOUR)
    if 3600 % every.total_seconds() or start >= live_from:
        return series_frame(store, kind, field, sensor_ids, start, end, every)

    def fetch(hour: datetime) -> pd.DataFrame:
        return series_frame(store, kind, field, sensor_ids, hour, hour + HOUR, every)

    hours = []
    hour = _floor(start, HOUR)
    while hour < live_from:
        hours.append(hour)
        hour += HOUR
    frames = [(closed_hour or fetch)(h) for h in hours]
    frames.append(series_frame(store, kind, field, sensor_ids, live_from, end, every))
    frame = pd.concat([f for f in frames if len(f)] or frames[-1:], ignore_index=True)
    frame = frame[frame["ts"] >= pd.Timestamp(_floor(start, every))]
    return frame.sort_values(["sensor_id", "ts"], kind="stable").reset_index(drop=True)


def window_series(
    store: Store,
    kind: str,
    field: str,
    sensor_ids: Collection[str],
    now: datetime,
    window: timedelta,
    closed_hour: HourSlice | None = None,
) -> pd.DataFrame:
    """A chart's series: the last `window` up to now, bucketed by choose_every(window)."""
    every = choose_every(window)
    if every is None:
        return series_frame(store, kind, field, sensor_ids, now - window, now + FUTURE_SLACK)
    return sliced_series(store, kind, field, sensor_ids, now - window, now, every, closed_hour)


# ---------------------------------------------------------------- crowd


def _age(now: datetime, r: Reading | None) -> float | None:
    return None if r is None else (now - r.ts).total_seconds()


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
                interval = FAMILIES["crowd"].report_interval.total_seconds() / 60
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


# ---------------------------------------------------------------- power


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


# ---------------------------------------------------------------- cold chain


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


# ---------------------------------------------------------------- shuttles


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


# ---------------------------------------------------------------- overview


@dataclass(frozen=True, slots=True)
class Tile:
    """One traffic light: what it is about, its status, one line of detail."""

    key: str
    label: str
    status: str
    detail: str
    drill: bool = False


def family_tiles(
    frames: dict[str, pd.DataFrame],
    active: pd.DataFrame,
    ages: dict[str, DataAge],
) -> list[Tile]:
    """A tile per family from its entity frames, its active alerts and its data age."""
    tiles = []
    for kind, label in FAMILY_LABELS.items():
        frame = frames.get(kind)
        age = ages[kind]
        mine = active[active["kind"] == kind] if len(active) else active
        statuses = list(frame["status"]) if frame is not None and len(frame) else []
        alert_status = [s for s in mine["severity"] if s != "info"] if len(mine) else []
        status = limits.worst(*[s for s in statuses if s != "nodata"], *alert_status)
        if age.newest is None:
            status = limits.worst(status, "nodata")
        elif age.stale:
            status = limits.worst(status, "stale")
        bad = sum(1 for s in statuses if s in ("warning", "critical"))
        parts = [f"{len(mine)} active alert{'s' if len(mine) != 1 else ''}"]
        if statuses:
            parts.append(f"{bad}/{len(statuses)} out of limits")
        parts.append(f"newest {age.text}" if age.newest else "no data")
        tiles.append(Tile(kind, label, status, " · ".join(parts), age.drill))
    return tiles


def zone_tiles(zones: pd.DataFrame) -> list[Tile]:
    """A tile per zone: occupancy, percentage of capacity and density."""
    tiles = []
    for row in zones.itertuples():
        if row.occupancy is None or pd.isna(row.occupancy):
            detail = "no data"
        else:
            detail = (
                f"{row.occupancy:,.0f} / {row.capacity:,} ({row.occupancy_pct:.0f} %)"
                f" · {row.density:.2f} p/m²"
            )
        tiles.append(Tile(str(row.id), str(row.name), str(row.status), detail, bool(row.drill)))
    return tiles


def _num(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    return float(value) if isinstance(value, int | float) else None


def _frame(rows: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if "ts" in frame:
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame
