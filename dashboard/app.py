"""Entry point: `streamlit run dashboard/app.py` (or `opsroom dashboard`): login, then pages.

The families' pages are their dashboard parts (dashboard/families/<kind>.py); the others live in
views/. Not pages/: Streamlit runs a `pages/` folder next to the entry as pages
of their own when st.navigation is not reached, which would bypass the login.
"""

from __future__ import annotations

import streamlit as st

from dashboard import auth, kiosk, lang, ui
from dashboard.families import PARTS
from dashboard.lang import N_, _
from opsroom.families import FAMILIES

st.set_page_config(page_title="Opsroom", page_icon=":material/monitor_heart:", layout="wide")

PAGES = [  # (script, title: a catalog message, translated per session, icon)
    ("views/overview.py", N_("Overview"), ":material/traffic:"),
    # a page per sensor family, from its dashboard part (dashboard/families/<kind>.py)
    *((f"families/{kind}.py", FAMILIES[kind].title, part.ICON) for kind, part in PARTS.items()),
    ("views/alerts.py", N_("Alerts"), ":material/notifications_active:"),
    ("views/controllog.py", N_("Control log"), ":material/menu_book:"),
]

settings = ui.settings()
if ui.require_login(settings):
    wall = auth.kiosk()
    if wall:
        # the wall screen: only the page whose turn it is, so nothing switches pages (a
        # switch left the next page blank, and the wall frozen, now and then)
        path, title, icon = PAGES[kiosk.turn(len(PAGES))]
        shown = st.Page(path, title=_(title), icon=icon, default=True)
        page = st.navigation([shown], position="hidden")
        kiosk.style()
    else:
        page = st.navigation(
            [st.Page(p, title=_(t), icon=i, default=n == 0) for n, (p, t, i) in enumerate(PAGES)]
        )
        with st.sidebar:
            lang.selector()
            auth.session_bar(settings)
    page.run()
    if wall:
        kiosk.rotate(settings, page)
elif not auth.kiosk():
    with st.sidebar:  # the login page speaks the chosen language too
        lang.selector()
