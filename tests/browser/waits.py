"""What a browser test waits for before it looks or acts (positive signals, not fixed times),
and the login every test goes through."""

from __future__ import annotations

from typing import Any

# every Plotly chart on the page has drawn its plot area
_CHARTS_DRAWN = """() => [...document.querySelectorAll('div.js-plotly-plot')]
    .every(p => p.querySelector('.main-svg .draglayer, .main-svg .geolayer, .main-svg .plot'))"""


def painted(page: Any) -> None:
    """Until the browser has painted what is on the page (two animation frames have run):
    what a screenshot then shows is what is there."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def drawn(page: Any) -> None:
    """Until every chart has drawn, every table's grid canvas is there, and both are painted."""
    page.wait_for_function(_CHARTS_DRAWN)
    for table in page.locator("[data-testid='stDataFrame']").all():
        table.locator("canvas").first.wait_for(state="attached")
    painted(page)


def shows(page: Any, text: str, timeout_ms: float = 30_000) -> None:
    """Until the page's markup holds `text` (chart titles and labels are SVG, out of reach of
    get_by_text)."""
    page.wait_for_function("t => document.body.innerHTML.includes(t)", arg=text, timeout=timeout_ms)


def refreshed(socket: Any, times: int = 2) -> None:
    """Until the server has pushed `times` more messages on the page's websocket (the 1 s
    refresh of its live part): a refresh has come and gone."""
    for _ in range(times):
        socket.wait_for_event("framereceived", timeout=30_000)


def log_in(page: Any, name: str, password: str) -> None:
    """Fill the English login form and press Log in."""
    page.get_by_label("User", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
