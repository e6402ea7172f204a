"""The pages' data, keyed by plain parameters only and shared by every session.

Over 400 lines on purpose: every cached read of every page is here, next to the one
snapshot mechanism they share, so that no page can read the store around it.

Every function takes the store URL with the event (`store_key`), the venue file (path and
mtime, so an edited file is reloaded) and `now_s`, the caller's clock (epoch seconds); the
entity tables also take the rules file's (path, mtime), or None without one. The live
queries keep one snapshot per set of parameters for the whole process (SNAPSHOTS): it is
taken at most once every TTL_S seconds however many screens are open, and a session that
asks while another is taking it waits for that one instead of running the query again. A
snapshot is computed at the time it is taken, so the ages it reports are true as of then.
A chart's closed hours are kept apart (CLOSED), so a refresh reads only the live hour, and a
page's charts of one family are read together (`series_many`: one store query for all).
No function reads a global; the store, venue and rules objects are shared resources.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pandas as pd
import streamlit as st

from dashboard import notifications, queries
from dashboard.tables import TableInputs
from opsroom.alerts import AlertEvent
from opsroom.controllog import Incident, LogEntry, incidents
from opsroom.rulesfile.bands import TimeInRange, threshold_levels, time_in_range
from opsroom.rulesfile.model import RuleSet, load_rules
from opsroom.settings import Settings
from opsroom.store import Store, open_store
from opsroom.venue import Venue, load_venue

# a snapshot taken at or after the caller's clock minus this is shared. Pages ask with whole
# seconds (ui.now_s), so a snapshot is at most 1.5 s old when used and each query runs at
# most twice a second, however many screens are open
TTL_S = 0.5
_MAX = 256
T = TypeVar("T")


class Snapshots:
    """The latest result of each query, for every session of the process.

    `take(key, now_s, compute)` returns the snapshot of `key` when it was taken at or after
    `now_s - max_age_s`; otherwise one caller runs `compute(taken_at)` while the others asking
    for the same key wait for it (a lock per key), so N screens cost one query, not N.
    DataFrames are handed out as copies: a page that changed one could not touch another's.
    """

    def __init__(self, max_age_s: float = TTL_S, max_entries: int = _MAX) -> None:
        self.max_age_s = max_age_s
        self.max_entries = max_entries
        self.computed = 0  # how many times a query really ran (for tests and benches)
        self._values: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def take(self, key: Hashable, now_s: float, compute: Callable[[datetime], T]) -> T:
        """The shared snapshot of `key`, taken now if the one held is older than asked."""
        with self._lock:
            key_lock = self._locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                held = self._values.get(key)
            if held is not None and held[0] >= now_s - self.max_age_s:
                value = held[1]
            else:
                taken = time.time()
                value = compute(datetime.fromtimestamp(taken, UTC))
                with self._lock:
                    self.computed += 1
                    self._values[key] = (taken, value)
                    self._values.move_to_end(key)
                    while len(self._values) > self.max_entries:
                        old, _ = self._values.popitem(last=False)
                        self._locks.pop(old, None)
        return _copy(value)  # type: ignore[return-value]

    def clear(self) -> None:
        """Forget every snapshot (tests)."""
        with self._lock:
            self._values.clear()
            self._locks.clear()


SNAPSHOTS = Snapshots()


def _copy(value: object) -> object:
    """A DataFrame (or a dict of them) as a copy; anything else as it is (immutable)."""
    if isinstance(value, pd.DataFrame):
        return value.copy()
    if isinstance(value, dict) and all(isinstance(v, pd.DataFrame) for v in value.values()):
        return {k: v.copy() for k, v in value.items()}
    return value


def store_key(settings: Settings) -> str:
    """The `store_url` every function here takes: the store's URL and the event it is scoped
    to, `URL#EVENT` (an event id has no '#', so the last one splits them)."""
    return f"{settings.store}#{settings.event}"


@st.cache_resource(show_spinner=False)
def store(key: str) -> Store:
    """One open store per store URL and event (see `store_key`), shared by every session
    (adapters are thread-safe)."""
    url, _, event = key.rpartition("#")
    return open_store(Settings.load({"store": url, "event": event}))


@st.cache_resource(show_spinner=False)
def venue(path: str, mtime: float) -> Venue:
    """The venue file, reloaded when its mtime changes."""
    return load_venue(path)


@st.cache_resource(show_spinner=False)
def rules(path: str, mtime: float, venue_path: str, venue_mtime: float) -> RuleSet:
    """The rules file checked against the venue, reloaded when either file's mtime changes."""
    return load_rules(path, venue(venue_path, venue_mtime))


@st.cache_resource(show_spinner=False)
def thresholds(path: str, mtime: float, venue_path: str, venue_mtime: float) -> queries.Thresholds:
    """Each entity's threshold levels from the rules file (see opsroom.rulesfile.bands)."""
    return threshold_levels(
        rules(path, mtime, venue_path, venue_mtime), venue(venue_path, venue_mtime)
    )


@st.cache_resource(show_spinner=False)
def time_ranges(
    path: str, mtime: float, venue_path: str, venue_mtime: float
) -> dict[str, TimeInRange]:
    """Each entity's cumulative (time in range) rules from the rules file (see
    opsroom.rulesfile.bands)."""
    return time_in_range(
        rules(path, mtime, venue_path, venue_mtime), venue(venue_path, venue_mtime)
    )


def _now(now_s: float) -> datetime:
    return datetime.fromtimestamp(now_s, UTC)


def active(store_url: str, now_s: float) -> list[AlertEvent]:
    """Active alerts, newest first."""
    return SNAPSHOTS.take(
        ("active", store_url), now_s, lambda now: queries.active_alert_events(store(store_url), now)
    )


def active_table(store_url: str, now_s: float) -> pd.DataFrame:
    """Active alerts as a table, critical first."""
    return SNAPSHOTS.take(
        ("active_table", store_url),
        now_s,
        lambda now: queries.active_alert_table(store(store_url), now),
    )


def data_age(
    store_url: str,
    venue_path: str,
    mtime: float,
    kinds: tuple[str, ...],
    now_s: float,
    stale_s: float,
) -> queries.DataAge:
    """Age of the newest reading of some families, as of the snapshot."""
    return SNAPSHOTS.take(
        ("data_age", store_url, venue_path, mtime, kinds, stale_s),
        now_s,
        lambda now: queries.data_age(
            store(store_url), venue(venue_path, mtime), kinds, now, stale_s
        ),
    )


def frame(
    store_url: str,
    venue_path: str,
    mtime: float,
    what: str,
    now_s: float,
    rules_file: tuple[str, float] | None = None,
) -> pd.DataFrame:
    """An entity table by name (a family's dashboard part declares it: zones, gates, ...).

    Statuses follow the rules file's levels when `rules_file` (path, mtime) is given, the
    design defaults otherwise.
    """
    return SNAPSHOTS.take(
        ("frame", store_url, venue_path, mtime, what, rules_file),
        now_s,
        lambda now: _entity_frame(store_url, venue_path, mtime, what, now, rules_file),
    )


def _entity_frame(
    store_url: str,
    venue_path: str,
    mtime: float,
    what: str,
    now: datetime,
    rules_file: tuple[str, float] | None,
) -> pd.DataFrame:
    from dashboard.families import TABLES  # the parts' pages import this module

    table = TABLES.get(what)
    if table is None:
        raise ValueError(f"unknown table {what!r} (known: {', '.join(sorted(TABLES))})")

    def ranges() -> dict[str, TimeInRange] | None:
        return None if rules_file is None else time_ranges(*rules_file, venue_path, mtime)

    def closed(
        kind: str, field: str, ids: tuple[str, ...], every: timedelta
    ) -> queries.HourSlice | None:
        slices = _closed(store_url, kind, (field,), ids, every, now)
        return None if slices is None else (lambda hour: slices(hour)[field])

    th = None if rules_file is None else thresholds(*rules_file, venue_path, mtime)
    inputs = TableInputs(
        store(store_url),
        venue(venue_path, mtime),
        now,
        active(store_url, now.timestamp()),
        th,
        ranges,
        closed,
    )
    return table(inputs)


class ClosedHours:
    """Closed hours of series for every session: (series, hour) -> each field's frame.

    A closed hour no longer changes, so it is kept for `ttl_s` (a backlog written late shows
    within that). A miss fetches every hour from the one asked up to the live hour in one
    store query and keeps each: a cold 24 h chart costs one query, not 24, and each hour that
    closes later costs one small one.
    """

    def __init__(self, ttl_s: float = 600.0, max_entries: int = 4096) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.fetched = 0  # store queries made (for tests and benches)
        self._values: OrderedDict[Hashable, tuple[float, dict[str, pd.DataFrame]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self,
        key: Hashable,
        hour: datetime,
        until: datetime,
        fetch: Callable[[datetime, datetime], dict[str, pd.DataFrame]],
    ) -> dict[str, pd.DataFrame]:
        """The frames of `hour` of series `key`; `fetch(start, end)` reads whole hours."""
        with self._lock:
            held = self._values.get((key, hour))
        if held is not None and held[0] >= time.time() - self.ttl_s:
            return held[1]
        end = max(until, hour + queries.HOUR)
        taken = time.time()
        hours = _by_hour(fetch(hour, end), hour, end)
        with self._lock:
            self.fetched += 1
            for start, frames in hours.items():
                self._values[(key, start)] = (taken, frames)
                self._values.move_to_end((key, start))
            while len(self._values) > self.max_entries:
                self._values.popitem(last=False)
        return hours[hour]

    def clear(self) -> None:
        """Forget every hour (tests)."""
        with self._lock:
            self._values.clear()


CLOSED = ClosedHours()


def _by_hour(
    frames: dict[str, pd.DataFrame], start: datetime, end: datetime
) -> dict[datetime, dict[str, pd.DataFrame]]:
    """Whole hours [start, end) of each field's frame, cut by the rows' hour (every hour,
    empty ones too, so that an hour without readings is not fetched again)."""
    out: dict[datetime, dict[str, pd.DataFrame]] = {}
    hour = start
    while hour < end:
        out[hour] = {}
        hour += queries.HOUR
    edges = pd.DatetimeIndex([*out, end])
    for field, frame in frames.items():
        # time order, so each hour is one slice (the pages sort the joined hours again)
        by_time = frame.sort_values("ts", kind="stable")
        cuts = pd.DatetimeIndex(by_time["ts"]).searchsorted(edges)
        for fields, lo, hi in zip(out.values(), cuts, cuts[1:], strict=False):
            fields[field] = by_time.iloc[lo:hi]
    return out


def _closed(
    store_url: str,
    kind: str,
    fields: tuple[str, ...],
    ids: tuple[str, ...],
    every: timedelta | None,
    now: datetime,
) -> queries.HourSlices | None:
    """The closed hours of a series as of `now` (see ClosedHours), or None for raw series."""
    if every is None:
        return None
    step = every
    until = queries.live_hour(now)

    def fetch(start: datetime, end: datetime) -> dict[str, pd.DataFrame]:
        return queries.series_frames(store(store_url), kind, fields, ids, start, end, step)

    key = (store_url, kind, fields, ids, step.total_seconds())
    return lambda hour: CLOSED.get(key, hour, until, fetch)


def series(
    store_url: str,
    kind: str,
    field: str,
    sensor_ids: tuple[str, ...],
    now_s: float,
    window_s: float,
) -> pd.DataFrame:
    """A chart's series over the last window_s seconds."""
    return series_many(store_url, kind, (field,), sensor_ids, now_s, window_s)[field]


def series_many(
    store_url: str,
    kind: str,
    fields: tuple[str, ...],
    sensor_ids: tuple[str, ...],
    now_s: float,
    window_s: float,
) -> dict[str, pd.DataFrame]:
    """Several charts' series of one family over the last window_s seconds: field -> frame,
    from one store query per refresh (and, the first time, one for the closed hours)."""
    window = timedelta(seconds=window_s)
    every = queries.choose_every(window)

    def compute(now: datetime) -> dict[str, pd.DataFrame]:
        closed = _closed(store_url, kind, fields, sensor_ids, every, now)
        return queries.window_series_many(
            store(store_url), kind, fields, sensor_ids, now, window, closed
        )

    key = ("series", store_url, kind, fields, sensor_ids, window_s)
    return SNAPSHOTS.take(key, now_s, compute)


def history(
    store_url: str,
    now_s: float,
    window_s: float,
    severities: tuple[str, ...],
    states: tuple[str, ...],
    kinds: tuple[str, ...],
    text: str,
) -> pd.DataFrame:
    """Alert transitions of the last window_s seconds, filtered, newest first."""

    def compute(now: datetime) -> pd.DataFrame:
        return queries.alert_history(
            store(store_url),
            now - timedelta(seconds=window_s),
            now + queries.FUTURE_SLACK,
            severities=severities,
            states=states,
            kinds=kinds,
            text=text,
        )

    key = ("history", store_url, window_s, severities, states, kinds, text)
    return SNAPSHOTS.take(key, now_s, compute)


def around(store_url: str, alert_id: str, now_s: float) -> pd.DataFrame:
    """The readings around one alert (its latest event)."""

    def compute(now: datetime) -> pd.DataFrame:
        s = store(store_url)
        events = s.alert_events(alert_id=alert_id)
        if not events:
            return queries.readings_around(s, _placeholder(alert_id, now.timestamp()))
        return queries.readings_around(s, events[-1])

    return SNAPSHOTS.take(("around", store_url, alert_id), now_s, compute)


def notification_log(path: str) -> notifications.AttemptLog:
    """The end of the rules service's notification log (see dashboard.notifications), parsed
    again only when the file's size or mtime changes: every refresh asks, few find news."""
    try:
        stat = os.stat(path)
        version = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        version = None  # no log yet (or unreadable: read_log says why)
    return _parsed_log(path, version)


@st.cache_data(max_entries=8, show_spinner=False)
def _parsed_log(path: str, version: tuple[int, int] | None) -> notifications.AttemptLog:
    return notifications.read_log(Path(path))


def _placeholder(alert_id: str, now_s: float) -> AlertEvent:
    return AlertEvent(
        alert_id=alert_id,
        rule="",
        subject="",
        kind="",
        severity="info",
        state="resolved",
        ts=_now(now_s),
    )


# The control log must reach every screen within 2 s: its page refreshes every second
# (LOG_REFRESH_S) and shares a snapshot at most 0.25 s old, asked with the exact clock.
LOG_SNAPSHOTS = Snapshots(max_age_s=0.25)


def log_entries(
    store_url: str, now_s: float, window_s: float, categories: tuple[str, ...], text: str
) -> list[LogEntry]:
    """Control log entries of the last window_s seconds (event time), filtered, oldest first."""

    def compute(now: datetime) -> list[LogEntry]:
        entries = store(store_url).log_entries(
            start=now - timedelta(seconds=window_s),
            end=now + queries.FUTURE_SLACK,
            category=categories[0] if len(categories) == 1 else None,
            text=text or None,
        )
        return [e for e in entries if not categories or e.category in categories]

    return LOG_SNAPSHOTS.take(("log", store_url, window_s, categories, text), now_s, compute)


def open_incidents(store_url: str, now_s: float) -> list[Incident]:
    """The incidents still open (from every entry of the event), newest opened first."""

    def compute(now: datetime) -> list[Incident]:
        return [i for i in incidents(store(store_url).log_entries()) if i.is_open]

    return LOG_SNAPSHOTS.take(("open_incidents", store_url), now_s, compute)


def log_written() -> None:
    """This process wrote to the log: its screens read it afresh (the writer sees it at once)."""
    LOG_SNAPSHOTS.clear()
