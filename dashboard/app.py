"""Entry point: `streamlit run dashboard/app.py` (or `opsroom dashboard`): login, then pages.

The families' pages are their dashboard parts (dashboard/families/<kind>.py); the others live in
views/. Not pages/: Streamlit runs a `pages/` folder next to the entry as pages
of their own when st.navigation is not reached, which would bypass the login.
"""

from __future__ import annotations

import streamlit as st

from dashboard import auth, kiosk, lang, ui
from dashboard.families import PARTS
from dashboard.lang import _
from opsroom.families import FAMILIES

st.set_page_config(page_title="Opsroom", page_icon=":material/monitor_heart:", layout="wide")

settings = ui.settings()
if ui.require_login(settings):
    pages = [
        st.Page("views/overview.py", title=_("Overview"), icon=":material/traffic:", default=True),
        # a page per sensor family, from its dashboard part (dashboard/families/<kind>.py)
        *(
            st.Page(f"families/{kind}.py", title=_(FAMILIES[kind].title), icon=part.ICON)
            for kind, part in PARTS.items()
        ),
        st.Page("views/alerts.py", title=_("Alerts"), icon=":material/notifications_active:"),
        st.Page("views/controllog.py", title=_("Control log"), icon=":material/menu_book:"),
    ]
    wall = auth.kiosk()
    page = st.navigation(pages, position="hidden" if wall else "sidebar")
    if wall:
        kiosk.switch_if_due(settings, pages, page)
        kiosk.style()
    else:
        with st.sidebar:
            lang.selector()
            auth.session_bar(settings)
    page.run()
    if wall:
        kiosk.rotate(settings, page)
elif not auth.kiosk():
    with st.sidebar:  # the login page speaks the chosen language too
        lang.selector()
