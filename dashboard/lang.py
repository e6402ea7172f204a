"""The dashboard's language, chosen per session: `_()` and `ngettext()` speak it.

A session speaks what its person chose in the sidebar (kept in session state), else the
`locale:` of their account in the users file, else `?lang=` in the address (the wall screen
has no sidebar), else OPSROOM_LOCALE. Every session has its own translator
(`opsroom.i18n.translator`), never the process-wide locale: two people on one server may read
two languages. The messages are the shared catalog's (tools/i18n-update extracts `_()` here
as everywhere).
"""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from opsroom import i18n
from opsroom.families import FAMILIES
from opsroom.i18n import LOCALES, N_, LocaleName, Translator

__all__ = ["N_", "_", "display_name", "locale", "ngettext", "selector", "tr"]

KEY = "opsroom_locale"
_PICKER = "opsroom_locale_picker"
NAMES = {"en": "English", "zh-CN": "中文"}


def _chosen() -> str | None:
    try:
        chosen = st.session_state.get(KEY)
    except Exception:  # outside a Streamlit run (a unit test): no session, no choice
        return None
    if isinstance(chosen, str):
        return chosen
    from dashboard import auth

    user = auth.current_user()
    if user is not None and user.locale:
        return user.locale
    asked = st.query_params.get("lang")
    if asked in LOCALES:
        st.session_state[KEY] = asked  # kept: the wall screen's page switches drop the URL's
        return asked
    return None


def locale() -> LocaleName:
    """This session's locale."""
    chosen = _chosen()
    if chosen is not None:
        try:
            return i18n.check_locale(chosen)
        except ValueError:
            pass
    return i18n.current()


def tr() -> Translator:
    """This session's translator (numbers and times as well as messages)."""
    return i18n.translator(locale())


def _(message: str, /, **values: Any) -> str:
    """`message` in this session's language, its {placeholders} filled from `values`."""
    return tr()(message, **values)


def ngettext(singular: str, plural: str, n: int, /, **values: Any) -> str:
    """The singular or plural message for `n`, in this session's language."""
    return tr().ngettext(singular, plural, n, **values)


def display_name(item: Any) -> str:
    """An entity's, rule's or plan's name in this session's language (see i18n.display_name)."""
    return i18n.display_name(item, locale())


def time_axis() -> dict[str, str]:
    """A chart's time axis for this session: Plotly names months in English, so in Chinese
    the dates are numbers."""
    if locale() == "en":
        return {}
    return {"tickformat": "%H:%M<br>%Y-%m-%d", "hoverformat": "%Y-%m-%d %H:%M:%S"}


def selector() -> None:
    """The language choice in the sidebar; it lasts for the session."""
    if st.session_state.get(_PICKER) != locale():  # e.g. after login with the user's own
        st.session_state[_PICKER] = locale()
    st.selectbox(
        "Language / 语言",
        LOCALES,
        format_func=lambda name: NAMES[name],
        key=_PICKER,
        on_change=_picked,
    )


def _picked() -> None:
    st.session_state[KEY] = st.session_state[_PICKER]


# column headers and the words in cells that tables show; the catalog has them through N_()
HEADERS = {
    c: c
    for c in (
        N_("name"),
        N_("severity"),
        N_("state"),
        N_("kind"),
        N_("subject"),
        N_("rule"),
        N_("message"),
        N_("value"),
        N_("ts"),
        N_("actor"),
        N_("escalation"),
        N_("silenced_by"),
        N_("drill"),
        N_("note"),
        N_("alert_id"),
        N_("acknowledged by"),
        N_("acknowledged at"),
        N_("at"),
        N_("notifier"),
        N_("type"),
        N_("outcome"),
        N_("attempt"),
        N_("error"),
        N_("status"),
        N_("last attempt"),
        N_("delivered"),
        N_("failed attempts"),
        N_("never delivered"),
        N_("last error"),
        N_("id"),
        N_("matches"),
        N_("starts_at"),
        N_("ends_at"),
        N_("author"),
        N_("reason"),
        N_("capacity"),
        N_("width_m"),
        N_("route"),
        N_("passengers"),
        N_("rated_kva"),
        N_("unit type"),
        N_("zone"),
        N_("vendor"),
        N_("door_open"),
        N_("station"),
        N_("air_temp_c"),
        N_("heat_index_c"),
        N_("wind_ms"),
        N_("gust_ms"),
        N_("strike_km"),
        N_("operating_gust_ms"),
        N_("evacuate_gust_ms"),
        N_("seats"),
    )
}
# cell words translated where shown (severity, state, status, outcome...): the alert words are
# in opsroom.alerts.WORDS
CELL_WORDS = (
    N_("ok"),
    N_("nodata"),
    N_("stale"),
    N_("delivered"),
    N_("kept for restart"),
    N_("gave up"),
    N_("FAILING"),
    N_("in force"),
    N_("to come"),
    N_("viewer"),
    N_("operator"),
    N_("admin"),
    N_("hot_holding"),
)
_CELL_COLUMNS = ("severity", "state", "status", "outcome", "type")
_RETRYING = re.compile(N_("retrying in {seconds} s").replace("{seconds}", r"(\S+)"))


def headers(columns: Any) -> dict[str, str]:
    """A `column_config` that shows every column's header in this session's language."""
    return {str(c): _(str(c)) for c in columns}


def cells(frame: Any) -> Any:
    """`frame` with its word columns (severity, state, status, outcome) translated for
    display (the stored values stay English)."""
    if locale() == "en" or not len(frame):
        return frame
    t = tr()

    def word(v: Any) -> Any:
        if not isinstance(v, str):
            return v
        retrying = _RETRYING.fullmatch(v)  # a notification attempt's outcome
        if retrying:
            return t("retrying in {seconds} s", seconds=retrying.group(1))
        return t(v)

    changes = {c: frame[c].map(word) for c in _CELL_COLUMNS if c in frame.columns}
    if "kind" in frame.columns:  # a sensor family: its title
        titles = {kind: t(family.title) for kind, family in FAMILIES.items()}
        changes["kind"] = frame["kind"].map(lambda k: titles.get(k, k))
    return frame.assign(**changes) if changes else frame


def dataframe(frame: Any, column_config: dict[str, Any] | None = None, **kw: Any) -> None:
    """`st.dataframe` with translated headers and words (extra `column_config` wins)."""
    config: dict[str, Any] = headers(frame.columns)
    if column_config:
        config |= {k: (_(v) if isinstance(v, str) else v) for k, v in column_config.items()}
    st.dataframe(cells(frame), column_config=config, **kw)


def names(items: Any) -> dict[str, str]:
    """id -> display name, for venue entities (a venue section's list)."""
    return {item.id: display_name(item) for item in items}


def venue_names(venue: Any) -> dict[str, str]:
    """id -> display name of every venue entity."""
    return {item.id: display_name(item) for _f, _s, items in venue.sections() for item in items}


def named(frame: Any, venue: Any) -> Any:
    """An entity frame with its `name` column in this session's language."""
    if locale() == "en" or not len(frame) or "id" not in frame.columns:
        return frame
    by_id = venue_names(venue)
    return frame.assign(
        name=[by_id.get(i, n) for i, n in zip(frame["id"], frame["name"], strict=True)]
    )
