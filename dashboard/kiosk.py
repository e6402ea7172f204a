"""The wall screen: a viewer session with no controls, larger type, and the pages in turn.

Started from the kiosk URL (`http://HOST:PORT/?kiosk=<OPSROOM_KIOSK_TOKEN>`), so nobody
types a password on the wall; each page shows for OPSROOM_KIOSK_ROTATE_S seconds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

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


def next_page(pages: Sequence[StreamlitPage], current: StreamlitPage) -> StreamlitPage:
    """The page after `current`, round and round."""
    paths = [p.url_path for p in pages]
    i = paths.index(current.url_path) if current.url_path in paths else -1
    return pages[(i + 1) % len(pages)]


@st.fragment(run_every=TICK_S)
def _rotate(pages: Sequence[StreamlitPage], current: StreamlitPage, rotate_s: float) -> None:
    if time.monotonic() - st.session_state.get(_SINCE, time.monotonic()) >= rotate_s:
        st.switch_page(next_page(pages, current))


def show(s: Settings, pages: Sequence[StreamlitPage], current: StreamlitPage) -> None:
    """Style the wall screen and move on to the next page every `kiosk_rotate_s` seconds."""
    st.markdown(CSS, unsafe_allow_html=True)
    if st.session_state.get(_PAGE) != current.url_path:
        st.session_state[_PAGE] = current.url_path
        st.session_state[_SINCE] = time.monotonic()
    if "kiosk" not in st.query_params and s.kiosk_token is not None:
        # keep the kiosk URL in the address bar: a reload of the wall screen logs in again
        st.query_params["kiosk"] = s.kiosk_token.get_secret_value()
    _rotate(pages, current, s.kiosk_rotate_s)
