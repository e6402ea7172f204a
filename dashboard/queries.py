"""What the pages show, as pure functions: a Store, the venue and `now` in; DataFrames out.

Over 400 lines on purpose: one pure query per panel on the one Store protocol, kept together
while the event-scoping work edits them; split by page once that has landed.

Nothing here imports Streamlit, so every function is unit-tested against a real store. The
app caches them (dashboard/cache.py); bench/dashboard.py times them.

Only the venue's own sensors are shown: each entity's id is its sensor id.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from dashboard import limits
from dashboard.lang import _, ngettext
from opsroom.alerts import AlertEvent
from opsroom.families import FAMILIES
from opsroom.rulesfile.bands import Levels
from opsroom.rulesfile.subjects import Entity, subject_of
from opsroom.rulesfile.values import VALUES
from opsroom.store import Store, active_alerts
from opsroom.telemetry import Reading, Value
from opsroom.venue import Venue

# each family's name on the dashboard, in registry order
FAMILY_LABELS = {kind: family.title for kind, family in FAMILIES.items()}
# readings may be stamped a little ahead of the wall clock (ingest accepts up to 5 min)
FUTURE_SLACK = timedelta(minutes=5)
# how far back the alert history is read to find the alerts still active
ALERT_LOOKBACK = timedelta(days=7)
GATE_FLOW_WINDOW = timedelta(minutes=5)
# the fields charted around an alert, per family
ALERT_FIELDS = {kind: family.key_fields for kind, family in FAMILIES.items()}
_NICE_STEPS_S = (10, 30, 60, 120, 300, 600, 900, 1800, 3600)
HOUR = timedelta(hours=1)
# one closed hour of a series, bucketed: hour start -> frame (the app caches these)
HourSlice = Callable[[datetime], pd.DataFrame]
# the same for several fields: hour start -> field -> frame
HourSlices = Callable[[datetime], Mapping[str, pd.DataFrame]]
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
        return _("no data") if self.age_s is None else human_age(self.age_s)


def human_age(seconds: float) -> str:
    """A short age: '12 s', '4 min', '3.2 h', '2.0 d'."""
    seconds = max(seconds, 0.0)
    if seconds < 90:
        return _("{seconds} s", seconds=f"{seconds:.0f}")
    if seconds < 5400:
        return _("{minutes} min", minutes=f"{seconds / 60:.0f}")
    if seconds < 172_800:
        return _("{hours} h", hours=f"{seconds / 3600:.1f}")
    return _("{days} d", days=f"{seconds / 86400:.1f}")


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

    "Late" is measured against the newest reading expected: one report interval ago, the
    longest interval of the families the venue has (a family it lacks expects nothing).
    """
    newest: datetime | None = None
    sensors = 0
    drill = False
    interval = 0.0
    for kind in kinds:
        if not venue_sensor_ids(venue, kind):
            continue
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
        "silenced_by",
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
    """Active alerts, critical first, then newest first, with when each was acknowledged."""
    frame = alert_frame(active_alert_events(store, now))
    order = {s: i for i, s in enumerate(("critical", "warning", "info"))}
    frame["_rank"] = frame["severity"].map(order)
    frame = frame.sort_values(["_rank", "ts"], ascending=[True, False], kind="stable")
    # who acknowledged is `actor`; when is the acknowledged event's own time
    frame["acknowledged_at"] = frame["ts"].where(frame["state"] == "acknowledged")
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
    return series_frames(store, kind, [field], sensor_ids, start, end, every)[field]


def series_frames(
    store: Store,
    kind: str,
    fields: Sequence[str],
    sensor_ids: Collection[str],
    start: datetime,
    end: datetime,
    every: timedelta | None = None,
) -> dict[str, pd.DataFrame]:
    """series_frame of several fields from one store query: field -> frame."""
    ids = list(sensor_ids)
    many = store.series_many(kind, list(fields), ids, start, end, every) if ids else {}
    out = {}
    for field in fields:
        points = many.get(field, [])
        frame = pd.DataFrame(
            {
                "sensor_id": [p.sensor_id for p in points],
                "ts": [p.ts for p in points],
                "value": [p.value for p in points],
            }
        )
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        out[field] = frame
    return out


def _floor(ts: datetime, step: timedelta) -> datetime:
    seconds = step.total_seconds()
    return datetime.fromtimestamp(ts.timestamp() // seconds * seconds, ts.tzinfo)


def live_hour(now: datetime) -> datetime:
    """The start of the hour `now` is in: the hours before it are closed (see sliced_series)."""
    return _floor(now, HOUR)


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
    """sliced_series_many of one field."""
    slices = None if closed_hour is None else (lambda hour: {field: closed_hour(hour)})
    return sliced_series_many(store, kind, [field], sensor_ids, start, now, every, slices)[field]


def sliced_series_many(
    store: Store,
    kind: str,
    fields: Sequence[str],
    sensor_ids: Collection[str],
    start: datetime,
    now: datetime,
    every: timedelta,
    closed_hours: HourSlices | None = None,
) -> dict[str, pd.DataFrame]:
    """series_frames from `start` to just after `now`, fetched as whole hours plus the live one.

    Buckets align to the epoch and every chart step divides an hour, so cutting at whole
    hours changes no bucket: the hours before the current one never change and the app
    caches them (`closed_hours`), leaving one hour of readings to scan per refresh.
    """
    end = now + FUTURE_SLACK
    live_from = live_hour(now)
    if 3600 % every.total_seconds() or start >= live_from:
        return series_frames(store, kind, fields, sensor_ids, start, end, every)

    def fetch(hour: datetime) -> Mapping[str, pd.DataFrame]:
        return series_frames(store, kind, fields, sensor_ids, hour, hour + HOUR, every)

    hours = []
    hour = _floor(start, HOUR)
    while hour < live_from:
        hours.append(hour)
        hour += HOUR
    slices = [(closed_hours or fetch)(h) for h in hours]
    live = series_frames(store, kind, fields, sensor_ids, live_from, end, every)
    since = pd.Timestamp(_floor(start, every))
    out = {}
    for field in fields:
        frames = [s[field] for s in slices] + [live[field]]
        frame = pd.concat([f for f in frames if len(f)] or frames[-1:], ignore_index=True)
        frame = frame[frame["ts"] >= since]
        out[field] = frame.sort_values(["sensor_id", "ts"], kind="stable").reset_index(drop=True)
    return out


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
    slices = None if closed_hour is None else (lambda hour: {field: closed_hour(hour)})
    return window_series_many(store, kind, [field], sensor_ids, now, window, slices)[field]


def window_series_many(
    store: Store,
    kind: str,
    fields: Sequence[str],
    sensor_ids: Collection[str],
    now: datetime,
    window: timedelta,
    closed_hours: HourSlices | None = None,
) -> dict[str, pd.DataFrame]:
    """window_series of several fields (a page's charts of one family) from one query each."""
    every = choose_every(window)
    if every is None:
        return series_frames(store, kind, fields, sensor_ids, now - window, now + FUTURE_SLACK)
    return sliced_series_many(
        store, kind, fields, sensor_ids, now - window, now, every, closed_hours
    )


# ---------------------------------------------------------------- crowd


def _age(now: datetime, r: Reading | None) -> float | None:
    return None if r is None else (now - r.ts).total_seconds()


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
        parts = [ngettext("{n} active alert", "{n} active alerts", len(mine))]
        if statuses and age.newest is not None:  # "0/12 out of limits" of nothing reads as fine
            parts.append(_("{bad}/{total} out of limits", bad=bad, total=len(statuses)))
        parts.append(_("newest {age}", age=age.text) if age.newest else _("no data yet"))
        tiles.append(Tile(kind, _(label), status, " · ".join(parts), age.drill))
    return tiles


def zone_tiles(zones: pd.DataFrame) -> list[Tile]:
    """A tile per zone: occupancy, percentage of capacity and density."""
    tiles = []
    for row in zones.itertuples():
        if row.occupancy is None or pd.isna(row.occupancy):
            detail = _("no data")
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
