"""The shift handover from the dashboard: the same report as `opsroom handover` (see
opsroom.reports), shown on the page and offered as Markdown and HTML downloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard import cache, ui
from dashboard.lang import _
from opsroom.reports.handover import handover
from opsroom.reports.shift import gather

BROKER_TIMEOUT_S = 2.0


def panel(ctx: ui.Context) -> None:
    """Hours to cover and a button; the report, then its downloads."""
    hours = st.number_input(_("Shift length (hours)"), 1, 24, 8, key="handover_hours")
    if st.button(_("Make the shift handover"), key="handover_make"):
        end = datetime.now(UTC)
        src = gather(
            cache.store(ctx.store_url),
            ctx.settings,
            end - timedelta(hours=hours),
            end,
            timeout=BROKER_TIMEOUT_S,
        )
        report = handover(src)
        st.session_state["handover"] = (report.markdown(), report.html(), end)
    made = st.session_state.get("handover")
    if made is None:
        return
    md, page, end = made
    stamp = end.strftime("%Y%m%d-%H%M")
    c1, c2 = st.columns(2)
    c1.download_button(
        _("Download HTML"), page, f"handover-{stamp}.html", "text/html", key="handover_html"
    )
    c2.download_button(
        _("Download Markdown"), md, f"handover-{stamp}.md", "text/markdown", key="handover_md"
    )
    st.markdown(md)
