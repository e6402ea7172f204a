"""Shared page furniture: settings and venue, login, the drill banner, freshness, tiles."""

from __future__ import annotations

import hmac
import html
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from dashboard import cache
from dashboard.charts import COLOURS
from dashboard.notifications import NotifierHealth
from dashboard.queries import DataAge, Tile
from opsroom.configfile import ConfigError
from opsroom.settings import Settings
from opsroom.venue import Venue

REFRESH_S = 2
WINDOWS = {"15 min": 900, "1 h": 3600, "6 h": 21_600, "24 h": 86_400}
STATUS_TEXT = {
    "ok": "OK",
    "nodata": "NO DATA",
    "stale": "STALE",
    "warning": "WARNING",
    "critical": "CRITICAL",
}
MISSING_PASSWORD_HELP = (
    "The dashboard has no password: set OPSROOM_DASHBOARD_PASSWORD, or set "  # noqa: S105
    "OPSROOM_DASHBOARD_NO_AUTH=1 to run it open on purpose (trusted network only)."
)


@dataclass(frozen=True)
class Context:
    """What every page needs: settings, the store URL and the venue (with its file's identity)."""

    settings: Settings
    venue_path: str
    venue_mtime: float
    venue: Venue

    @property
    def store_url(self) -> str:
        """The store's URL, the cache key of every query."""
        return self.settings.store

    @property
    def tz(self) -> str:
        """The event's time zone, the one times are shown in."""
        return self.venue.event.timezone


def settings() -> Settings:
    """Settings from the environment; a bad setting stops the page with the reason."""
    try:
        return Settings.load()
    except ConfigError as exc:
        st.error(f"Configuration error: {exc}")
        st.stop()
        raise  # st.stop() raises; this keeps type checkers sure


def context() -> Context:
    """The page context; stops the page with a clear message when the venue is missing."""
    s = settings()
    if s.venue is None:
        st.error("No venue file: set OPSROOM_VENUE (or `opsroom dashboard --venue FILE`).")
        st.stop()
    path = str(s.venue)
    try:
        mtime = os.stat(path).st_mtime
        venue = cache.venue(path, mtime)
    except (OSError, ConfigError) as exc:
        st.error(f"Cannot load the venue file: {exc}")
        st.stop()
        raise
    return Context(s, path, mtime, venue)


def now_s() -> float:
    """The wall clock in whole seconds: the cache key that lets sessions share a query."""
    return float(int(time.time()))


def require_login(s: Settings) -> bool:
    """True when the session may see the dashboard; otherwise draws the login form or refusal."""
    if s.dashboard_no_auth:
        return True
    if s.dashboard_password is None:
        st.error(MISSING_PASSWORD_HELP)
        return False
    if st.session_state.get("opsroom_authenticated"):
        return True
    st.title("Opsroom")
    with st.form("login"):
        entered = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in")
    if submitted:
        expected = s.dashboard_password.get_secret_value().encode()
        if hmac.compare_digest(entered.encode(), expected):
            st.session_state["opsroom_authenticated"] = True
            st.rerun()
        st.error("Wrong password.")
    return False


def drill_banner(drill: bool) -> None:
    """A prominent banner when anything shown comes from a drill."""
    if drill:
        st.markdown(
            '<div class="ops-drill" style="background:#6a1b9a;color:white;padding:10px 16px;'
            "border-radius:6px;font-size:1.4rem;font-weight:800;text-align:center;"
            'letter-spacing:0.08em">DRILL · rehearsal data, not live</div>',
            unsafe_allow_html=True,
        )


def freshness(age: DataAge, tz: str) -> None:
    """The newest data's age, and a STALE warning when it is late."""
    if age.newest is None:
        st.warning("No data yet for this page.")
        return
    shown = age.newest.astimezone(ZoneInfo(tz)).strftime("%H:%M:%S")
    if age.stale:
        st.error(
            f"STALE: the newest data is {age.text} old (at {shown}); readings are expected "
            f"every {age.expected_every_s:.0f} s. Check the sensors, ingest and the store."
        )
    else:
        st.caption(f"Newest data {age.text} ago ({shown}) · {age.sensors} sensors reporting")


def notifier_alarms(notifiers: Sequence[NotifierHealth], tz: str) -> None:
    """A red line per notifier whose latest attempt failed: call-outs are not getting out."""
    for h in notifiers:
        if not h.failing:
            continue
        since = (h.failing_since or h.last_at).astimezone(ZoneInfo(tz)).strftime("%H:%M:%S")
        st.error(
            f"NOTIFICATIONS FAILING: {h.notifier} ({h.type}) since {since}: {h.last_error}. "
            f"Alerts are not reaching people through it; {h.gave_up} transition(s) never "
            "delivered. Pass them on another way."
        )


def tiles(items: Sequence[Tile], columns: int = 4) -> None:
    """Traffic-light tiles in rows of `columns`."""
    for start in range(0, len(items), columns):
        cols = st.columns(columns)
        for col, tile in zip(cols, items[start : start + columns], strict=False):
            colour = COLOURS.get(tile.status, "#444")
            drill = " · DRILL" if tile.drill else ""
            col.markdown(
                f'<div class="ops-tile" style="background:{colour};color:white;padding:10px 12px;'
                f'border-radius:8px;margin-bottom:8px;min-height:110px">'
                f'<div style="font-size:1.05rem;font-weight:700">{html.escape(tile.label)}</div>'
                f'<div style="font-size:1.5rem;font-weight:800">'
                f"{STATUS_TEXT.get(tile.status, tile.status.upper())}{drill}</div>"
                f'<div style="font-size:0.85rem">{html.escape(tile.detail)}</div></div>',
                unsafe_allow_html=True,
            )


def window_picker(key: str, default: str = "1 h") -> float:
    """A chart-window selector whose choice survives every refresh; seconds."""
    label = st.segmented_control(
        "Window", list(WINDOWS), default=default, key=key, label_visibility="collapsed"
    )
    return float(WINDOWS[label or default])


# units and rounding of the entity tables' columns
_COLUMNS = {
    "age_s": ("age (s)", "%.0f"),
    "occupancy": ("occupancy", "%.0f"),
    "occupancy_pct": ("occupancy (%)", "%.0f"),
    "density": ("density (p/m²)", "%.2f"),
    "in_per_min": ("in / min", "%.0f"),
    "out_per_min": ("out / min", "%.0f"),
    "flow_per_m_min": ("flow (p/m/min)", "%.1f"),
    "voltage_v": ("voltage (V)", "%.1f"),
    "frequency_hz": ("frequency (Hz)", "%.2f"),
    "power_kw": ("power (kW)", "%.0f"),
    "load_pct": ("load (%)", "%.0f"),
    "fuel_pct": ("fuel (%)", "%.0f"),
    "temp_c": ("temp (°C)", "%.1f"),
    "danger_zone_min": ("danger zone (min, 24 h)", "%.0f"),
    "speed_kmh": ("speed (km/h)", "%.0f"),
    "off_route_m": ("off route (m)", "%.0f"),
}


def table(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """An entity table with units in the headers and sensible rounding."""
    config = {
        c: st.column_config.NumberColumn(label, format=fmt)
        for c, (label, fmt) in _COLUMNS.items()
        if c in columns
    }
    st.dataframe(frame[list(columns)], hide_index=True, width="stretch", column_config=config)
