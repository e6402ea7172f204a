"""The wall screen: a viewer session with no controls, larger type, and the pages in turn.

Started from the kiosk URL (`http://HOST:PORT/?kiosk=<OPSROOM_KIOSK_TOKEN>`), so nobody
types a password on the wall; each page shows for OPSROOM_KIOSK_ROTATE_S seconds.
"""

from __future__ import annotations

import time

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from opsroom.settings import Settings

_PAGE = "opsroom_kiosk_page"
_SINCE = "opsroom_kiosk_since"
TICK_S = 1.0
# larger type everywhere (Streamlit sizes in rem), no header, toolbar or sidebar
CSS = """<style>
html { font-size: 24px; }
header[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stSidebar"],
[data-testid="stSidebarCollapsedControl"], [data-testid="stElementToolbar"] { display: none; }
.block-container { padding-top: 1rem; max-width: 100%; }
</style>"""


_NEXT = "opsroom_kiosk_next"


@st.fragment(run_every=TICK_S)
def _tick(rotate_s: float) -> None:
    if time.monotonic() - st.session_state.get(_SINCE, time.monotonic()) >= rotate_s:
        # switch pages from a full run of the app, not from inside this fragment: a switch
        # from a fragment left the next page blank now and then
        st.session_state[_NEXT] = True
        st.rerun(scope="app")


def style() -> None:
    """Larger type, and no header, toolbar or sidebar (before the page draws)."""
    st.markdown(CSS, unsafe_allow_html=True)


_INDEX = "opsroom_kiosk_index"


def turn(count: int) -> int:
    """Which of `count` pages the wall shows now (0 first), moved on when the ticker says the
    last one has shown long enough. The URL stays the kiosk URL, so a reload of the wall
    screen logs in again and starts from the Overview."""
    index = int(st.session_state.get(_INDEX, 0))
    if st.session_state.pop(_NEXT, False):
        index += 1
    index %= count
    st.session_state[_INDEX] = index
    return index


def rotate(s: Settings, current: StreamlitPage) -> None:
    """Start the clock of a page that has just drawn (called after the page ran: on a slow
    machine a page still shows for the whole `kiosk_rotate_s`), and the ticker."""
    if st.session_state.get(_PAGE) != current.url_path:
        st.session_state[_PAGE] = current.url_path
        st.session_state[_SINCE] = time.monotonic()
    _tick(s.kiosk_rotate_s)
