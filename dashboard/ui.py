"""Shared page furniture: settings, venue and rules, login, the drill banner, freshness, tiles."""

from __future__ import annotations

import html
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import auth, cache, charts, lang
from dashboard.charts import COLOURS
from dashboard.lang import N_, _
from dashboard.limits import Band, grouped
from dashboard.notifications import NotifierHealth
from dashboard.queries import DataAge, Tile, levels_of
from opsroom.configfile import ConfigError
from opsroom.rulesfile.bands import Levels, TimeInRange
from opsroom.settings import Settings
from opsroom.venue import Venue

# What changes as devices report (freshness, tiles, tables, alerts) is drawn again every
# REFRESH_S; charts and maps every CHART_REFRESH_S. Drawing a Plotly chart is most of what a
# browser spends on a page, and with ten screens on one machine it held every page back (data
# age p95 20 s, bench/sessions.py). Devices report every 10 s (power, shuttles) to 60 s, and
# one pixel of a 24 h chart is a minute: a chart redrawn every 10 s misses at most one report.
# The rest every second on the wall screen's pages (Overview, Alerts, plans, the log) and
# every 2 s on the family pages, whose devices report every 10 s to 60 s. With ten screens
# (bench/sessions.py) no page is then more than 2.6 s behind the store at p95 (the Overview
# 1.3-1.9 s; up to 3.7 s when every page refreshed every second, the browsers on one machine
# holding each other back), and the Overview shows data 2.4-3.3 s old at p95.
REFRESH_S = 1
FAMILY_REFRESH_S = 2
CHART_REFRESH_S = 10
WINDOWS = {N_("15 min"): 900, N_("1 h"): 3600, N_("6 h"): 21_600, N_("24 h"): 86_400}
STATUS_TEXT = {
    "ok": N_("ok"),  # shown upper-cased: OK
    "nodata": N_("NO DATA"),
    "stale": N_("STALE"),
    "warning": N_("WARNING"),
    "critical": N_("CRITICAL"),
}


@dataclass(frozen=True)
class Context:
    """What every page needs: settings, the store URL, the venue (with its file's identity) and
    the rules file's identity (path, mtime), None without one or when it does not load."""

    settings: Settings
    venue_path: str
    venue_mtime: float
    venue: Venue
    rules_file: tuple[str, float] | None = None

    def levels(self, entity_id: str) -> Levels | None:
        """The levels the rules file holds an entity to; None (the defaults) without one."""
        if self.rules_file is None:
            return None
        th = cache.thresholds(*self.rules_file, self.venue_path, self.venue_mtime)
        return levels_of(th, entity_id)

    def time_in_range(self, entity_id: str) -> TimeInRange | None:
        """The cumulative rules an entity is held to; None (the defaults) without a rules file."""
        if self.rules_file is None:
            return None
        ranges = cache.time_ranges(*self.rules_file, self.venue_path, self.venue_mtime)
        return ranges.get(entity_id, {})

    @property
    def store_url(self) -> str:
        """The store's URL and the event (`cache.store_key`), the cache key of every query."""
        return cache.store_key(self.settings)

    @property
    def tz(self) -> str:
        """The event's time zone, the one times are shown in."""
        return self.venue.event.timezone

    def table(self, name: str, now_s: float) -> pd.DataFrame:
        """An entity table (zones, generators, ...) from the shared snapshot, its names in this
        session's language."""
        frame = cache.frame(
            self.store_url, self.venue_path, self.venue_mtime, name, now_s, self.rules_file
        )
        return lang.named(frame, self.venue)


def settings() -> Settings:
    """Settings from the environment; a bad setting stops the page with the reason."""
    try:
        return Settings.load()
    except ConfigError as exc:
        st.error(_("Configuration error: {error}", error=exc))
        st.stop()
        raise  # st.stop() raises; this keeps type checkers sure


def context() -> Context:
    """The page context; stops the page with a clear message when the venue is missing."""
    s = settings()
    if s.venue is None:
        st.error(_("No venue file: set OPSROOM_VENUE (or `opsroom dashboard --venue FILE`)."))
        st.stop()
    path = str(s.venue)
    try:
        mtime = os.stat(path).st_mtime
        venue = cache.venue(path, mtime)
    except (OSError, ConfigError) as exc:
        st.error(_("Cannot load the venue file: {error}", error=exc))
        st.stop()
        raise
    return Context(s, path, mtime, venue, rules_file(s, path, mtime))


def rules_file(s: Settings, venue_path: str, venue_mtime: float) -> tuple[str, float] | None:
    """The rules file's (path, mtime) once it loads; None without one or, with the problem
    shown, when it does not: the pages then colour by the design defaults."""
    if s.rules is None:
        return None
    path = str(s.rules)
    try:
        mtime = os.stat(path).st_mtime
        cache.thresholds(path, mtime, venue_path, venue_mtime)
    except OSError as exc:
        problem = f"{path}: cannot read file: {exc.strerror or exc}"
    except ConfigError as exc:
        problem = str(exc)
    else:
        return path, mtime
    st.error(
        _(
            "Cannot load the rules file, so limits are the design defaults, not the venue's: "
            "{problem}",
            problem=problem,
        )
    )
    return None


def now_s() -> float:
    """The wall clock in whole seconds: the cache key that lets sessions share a query."""
    return float(int(time.time()))


def require_login(s: Settings) -> bool:
    """True when the session may see the dashboard; otherwise draws the login page."""
    return auth.require_login(s)


def drill_banner(drill: bool) -> None:
    """A prominent banner when anything shown comes from a drill."""
    if drill:
        st.markdown(
            '<div class="ops-drill" style="background:#6a1b9a;color:white;padding:10px 16px;'
            "border-radius:6px;font-size:1.4rem;font-weight:800;text-align:center;"
            'letter-spacing:0.08em">'
            + html.escape(_("DRILL · rehearsal data, not live"))
            + "</div>",
            unsafe_allow_html=True,
        )


def charts_note(table_s: int = REFRESH_S) -> None:
    """Say under a page's charts that they follow the tables (drawn every `table_s`) at a
    slower pace."""
    st.caption(
        _(
            "Charts are drawn again every {chart} s; the tables and tiles every {table} s.",
            chart=CHART_REFRESH_S,
            table=table_s,
        )
    )


def freshness(age: DataAge, tz: str) -> None:
    """The newest data's age, and a STALE warning when it is late."""
    if age.newest is None:
        st.warning(_("No data yet for this page."))
        return
    shown = lang.tr().time(age.newest, tz)
    if age.stale:
        st.error(
            _(
                "STALE: the newest data is {age} old (at {time}); readings are expected "
                "every {every} s. Check the sensors, ingest and the store.",
                age=age.text,
                time=shown,
                every=f"{age.expected_every_s:.0f}",
            )
        )
    else:
        # the time in a <time> element: a screen reader, a test or a bench reads the exact
        # instant (to the millisecond) behind the whole seconds shown
        stamp = age.newest.astimezone(UTC).isoformat(timespec="milliseconds")
        text = _(
            "Newest data {age} ago ({time}) · {sensors} sensors reporting",
            age=html.escape(age.text),
            time=f'<time datetime="{stamp}">{html.escape(shown)}</time>',
            sensors=age.sensors,
        )
        st.caption(text, unsafe_allow_html=True)


def notifier_alarms(notifiers: Sequence[NotifierHealth], tz: str) -> None:
    """A red line per notifier whose latest attempt failed: call-outs are not getting out."""
    for h in notifiers:
        if not h.failing:
            continue
        since = lang.tr().time(h.failing_since or h.last_at, tz)
        st.error(
            _(
                "NOTIFICATIONS FAILING: {notifier} ({type}) since {since}. Alerts are not "
                "reaching people through it; {gave_up} transition(s) never delivered. Pass "
                "them on another way. Its last error:",
                notifier=h.notifier,
                type=h.type,
                since=since,
                gave_up=h.gave_up,
            )
        )
        # the error comes from a remote server or a library: plain text, never Markdown
        st.code(h.last_error or "", language=None, wrap_lines=True)


def tiles(items: Sequence[Tile], columns: int = 4) -> None:
    """Traffic-light tiles in rows of `columns`."""
    for start in range(0, len(items), columns):
        cols = st.columns(columns)
        for col, tile in zip(cols, items[start : start + columns], strict=False):
            colour = COLOURS.get(tile.status, "#444")
            drill = _(" · DRILL") if tile.drill else ""
            col.markdown(
                f'<div class="ops-tile" style="background:{colour};color:white;padding:10px 12px;'
                f'border-radius:8px;margin-bottom:8px;min-height:110px">'
                f'<div style="font-size:1.05rem;font-weight:700">{html.escape(tile.label)}</div>'
                f'<div style="font-size:1.5rem;font-weight:800">'
                f"{_(STATUS_TEXT.get(tile.status, tile.status)).upper()}{drill}</div>"
                f'<div style="font-size:0.85rem">{html.escape(tile.detail)}</div></div>',
                unsafe_allow_html=True,
            )


def window_picker(key: str, default: str = "1 h") -> float:
    """A chart-window selector whose choice survives every refresh; seconds (the default,
    with no selector, on the wall screen)."""
    if auth.kiosk():
        return float(WINDOWS[default])
    label = st.segmented_control(
        _("Window"),
        list(WINDOWS),
        default=default,
        key=key,
        label_visibility="collapsed",
        format_func=_,
    )
    return float(WINDOWS[label or default])


# units and rounding of the entity tables' columns
_COLUMNS = {
    "age_s": (N_("age (s)"), "%.0f"),
    "occupancy": (N_("occupancy"), "%.0f"),
    "occupancy_pct": (N_("occupancy (%)"), "%.0f"),
    "density": (N_("density (p/m²)"), "%.2f"),
    "in_per_min": (N_("in / min"), "%.0f"),
    "out_per_min": (N_("out / min"), "%.0f"),
    "flow_per_m_min": (N_("flow (p/m/min)"), "%.1f"),
    "voltage_v": (N_("voltage (V)"), "%.1f"),
    "frequency_hz": (N_("frequency (Hz)"), "%.2f"),
    "power_kw": (N_("power (kW)"), "%.0f"),
    "load_pct": (N_("load (%)"), "%.0f"),
    "fuel_pct": (N_("fuel (%)"), "%.0f"),
    "temp_c": (N_("temp (°C)"), "%.1f"),
    "danger_zone_min": (N_("danger zone (min, 24 h)"), "%.0f"),
    "speed_kmh": (N_("speed (km/h)"), "%.0f"),
    "off_route_m": (N_("off route (m)"), "%.0f"),
}


def table(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """An entity table with units in the headers and sensible rounding."""
    config: dict[str, Any] = dict(lang.headers(columns))
    config |= {
        c: st.column_config.NumberColumn(_(label), format=fmt)
        for c, (label, fmt) in _COLUMNS.items()
        if c in columns
    }
    shown = lang.cells(frame[list(columns)])
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config)


def band_marks(
    bands: Mapping[str, Band],
    names: Mapping[str, str],
    label: Callable[[str, float], str],
    shade_warning: bool = True,
) -> tuple[list[charts.Band], list[charts.Line]]:
    """Shading and level lines on a chart for the distinct bands of some entities.

    `label(entity_id, value)` words a line; when the entities do not all share one band, the
    lines of the others name the entities they are for.
    """
    red, amber = COLOURS["critical"], COLOURS["warning"]
    shades: list[charts.Band] = []
    lines: list[charts.Line] = []
    for i, (b, ids) in enumerate(grouped(bands)):
        whose = "" if i == 0 else " (" + ", ".join(names.get(e, e) for e in ids) + ")"
        if b.crit_high is not None:
            shades.append((b.crit_high, None, red))
        if b.crit_low is not None:
            shades.append((None, b.crit_low, red))
        if shade_warning and b.warn_high is not None:
            shades.append((b.warn_high, b.crit_high, amber))
        if shade_warning and b.warn_low is not None:
            shades.append((b.crit_low, b.warn_low, amber))
        for v, colour in (
            (b.warn_low, amber),
            (b.warn_high, amber),
            (b.crit_low, red),
            (b.crit_high, red),
        ):
            if v is not None:
                lines.append((v, colour, label(ids[0], v) + whose))
    return shades, lines


def current_actor() -> str:
    """Who is acting in this session: the logged-in user, never a typed name (empty when
    nobody is logged in). Every entry, acknowledgement and silence is signed with it."""
    from dashboard import auth

    user = auth.current_user()
    return user.name if user is not None else ""
