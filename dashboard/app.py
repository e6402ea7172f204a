"""Entry point: `streamlit run dashboard/app.py` (or `opsroom dashboard`): login, then pages.

Pages live in views/, not pages/: Streamlit runs a `pages/` folder next to the entry as pages
of their own when st.navigation is not reached, which would bypass the login.
"""

from __future__ import annotations

import streamlit as st

from dashboard import ui

st.set_page_config(page_title="Opsroom", page_icon=":material/monitor_heart:", layout="wide")

if ui.require_login(ui.settings()):
    page = st.navigation(
        [
            st.Page("views/overview.py", title="Overview", icon=":material/traffic:", default=True),
            st.Page("views/crowd.py", title="Crowd", icon=":material/groups:"),
            st.Page("views/power.py", title="Power", icon=":material/bolt:"),
            st.Page("views/coldchain.py", title="Cold chain", icon=":material/kitchen:"),
            st.Page("views/shuttles.py", title="Shuttles", icon=":material/directions_bus:"),
            st.Page("views/alerts.py", title="Alerts", icon=":material/notifications_active:"),
        ]
    )
    page.run()
