"""The shift handover and the event-day report, as Markdown and one self-contained HTML page.

Over 400 lines: two reports of seven sections each, every section written as Markdown and
as escaped HTML side by side so that the two say the same.

The handover says what the next shift takes over: open incidents with their owners, active
alerts (unacknowledged first), silences in force, and what happened in the shift (decisions,
incidents closed, notifications that failed, sensors that went silent). The event-day report
adds, per category, the time to acknowledge an alert and to close an incident, and a timeline.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from opsroom.alerts import AlertEvent
from opsroom.controllog import incidents
from opsroom.controllog.model import category_of
from opsroom.controllog.owners import alert_owners, owner_label
from opsroom.i18n import _
from opsroom.reports import page
from opsroom.reports.page import SEVERITY_COLOURS, Table, fmt_delta, timeline_bar
from opsroom.reports.shift import Sources, escalations
from opsroom.store.base import active_alerts


def _at(ts: datetime | None) -> str:
    return "—" if ts is None else ts.strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Report:
    """A report's title, intro lines, sections and (event day) timeline figure."""

    title: str
    intro: tuple[str, ...]
    tables: tuple[Table, ...]
    figure: Any = None

    def markdown(self) -> str:
        """The report as Markdown."""
        return page.markdown(self.title, self.intro, self.tables)

    def html(self) -> str:
        """The report as one self-contained HTML page."""
        return page.html_page(self.title, self.intro, self.tables, self.figure)

    def write(self, out: Path, stem: str) -> tuple[Path, Path]:
        """Write STEM.md and STEM.html into `out`; return their paths."""
        out.mkdir(parents=True, exist_ok=True)
        md, html = out / f"{stem}.md", out / f"{stem}.html"
        md.write_text(self.markdown(), encoding="utf-8")
        html.write_text(self.html(), encoding="utf-8")
        return md, html


def open_incidents(src: Sources) -> Table:
    """Incidents still open at the window's end, with owner and age."""
    found = [i for i in incidents(src.entries) if i.is_open]
    rows = [
        (
            f"#{i.id[:8]}",
            _at(i.opened.event_ts),
            i.opened.category,
            i.opened.priority,
            i.opened.text,
            owner_label(src.roster, i.owner) or _("NOBODY"),
            fmt_delta(i.age(src.end)),
            str(i.updates),
        )
        for i in found
    ]
    return Table(
        _("Open incidents ({n})", n=len(rows)),
        [
            _("incident"),
            _("opened"),
            _("category"),
            _("priority"),
            _("text"),
            _("owner"),
            _("open for"),
            _("updates"),
        ],
        rows,
        _("No open incidents."),
        key="open-incidents",
        row_classes=["bad" if i.owner is None else "" for i in found],
    )


def _active(src: Sources) -> list[AlertEvent]:
    return active_alerts(list(src.events))


def active_tables(src: Sources) -> tuple[Table, Table]:
    """Active alerts not acknowledged, then those acknowledged, with owner and escalations."""
    owners = alert_owners(src.entries)
    esc = escalations(src.entries, src.attempts)
    first: dict[str, datetime] = {}
    for ev in src.events:
        first.setdefault(ev.alert_id, ev.ts)
    columns = [
        _("severity"),
        _("subject"),
        _("rule"),
        _("message"),
        _("since"),
        _("owner"),
        _("escalations"),
        _("silenced by"),
    ]

    def row(a: AlertEvent) -> tuple[str, ...]:
        owner = owner_label(src.roster, owners[a.alert_id][0]) if a.alert_id in owners else ""
        return (
            a.severity.upper(),
            a.subject,
            a.rule,
            a.message,
            _at(first.get(a.alert_id)),
            owner or _("NOBODY"),
            str(esc.get(a.alert_id, 0)),
            a.silenced_by or "",
        )

    active = _active(src)
    unacked = [a for a in active if a.state != "acknowledged"]
    acked = [a for a in active if a.state == "acknowledged"]
    return (
        Table(
            _("Active alerts not acknowledged ({n})", n=len(unacked)),
            [_("state"), *columns],
            [(a.state, *row(a)) for a in unacked],
            _("None."),
            key="unacknowledged-alerts",
            row_classes=["bad"] * len(unacked),
        ),
        Table(
            _("Active alerts acknowledged ({n})", n=len(acked)),
            [_("acknowledged by"), *columns],
            [(a.actor or "", *row(a)) for a in acked],
            _("None."),
            key="acknowledged-alerts",
        ),
    )


def silences_table(src: Sources) -> Table:
    """Silences in force at the window's end, or to come."""
    shown = sorted((s for s in src.silences if s.until > src.end), key=lambda s: s.starts_at)
    rows = [(s.id, s.describe(), _at(s.starts_at), _at(s.until), s.author, s.reason) for s in shown]
    return Table(
        _("Silences in force or to come ({n})", n=len(rows)),
        [_("silence"), _("matches"), _("from"), _("until"), _("author"), _("reason")],
        rows,
        _("No silences in force."),
        key="silences",
    )


def decisions_table(src: Sources) -> Table:
    """Decisions recorded in the window."""
    rows = [
        (
            _at(e.event_ts),
            e.decision or "",
            e.rationale or "",
            e.decided_by or e.author,
            f"#{e.incident_id[:8]}" if e.incident_id else "",
        )
        for e in src.entries
        if e.kind == "decision" and src.within(e.event_ts)
    ]
    return Table(
        _("Decisions ({n})", n=len(rows)),
        [_("time"), _("decision"), _("rationale"), _("decided by"), _("incident")],
        rows,
        _("No decisions recorded."),
        key="decisions",
    )


def closed_table(src: Sources) -> Table:
    """Incidents closed in the window, with their time to close."""
    found = [i for i in incidents(src.entries) if i.closed and src.within(i.closed.event_ts)]
    rows = [
        (
            f"#{i.id[:8]}",
            i.opened.category,
            i.opened.text,
            owner_label(src.roster, i.owner),
            _at(i.opened.event_ts),
            _at(i.closed.event_ts if i.closed else None),
            fmt_delta(i.time_to_close),
            i.closed.text if i.closed else "",
        )
        for i in found
    ]
    return Table(
        _("Incidents closed ({n})", n=len(rows)),
        [
            _("incident"),
            _("category"),
            _("text"),
            _("owner"),
            _("opened"),
            _("closed"),
            _("time to close"),
            _("how it ended"),
        ],
        rows,
        _("No incidents closed."),
        key="closed-incidents",
    )


def failed_table(src: Sources) -> Table:
    """Notification attempts that failed in the window."""
    failed = [a for a in src.attempts if not a.ok and src.within(a.at)]
    rows = [
        (
            _at(a.at),
            a.notifier,
            a.alert_id,
            a.severity,
            a.state,
            str(a.attempt),
            _("yes") if a.retryable else _("no"),
            a.error or "",
        )
        for a in failed
    ]
    return Table(
        _("Notifications that failed ({n})", n=len(rows)),
        [
            _("at"),
            _("notifier"),
            _("alert"),
            _("severity"),
            _("state"),
            _("attempt"),
            _("retried"),
            _("error"),
        ],
        rows,
        _("No failed notifications."),
        key="failed-notifications",
        row_classes=["bad"] * len(rows),
    )


def silent_table(src: Sources) -> Table:
    """Sensors that went silent in the window (a silent-device alert began), and if they came
    back."""
    began: dict[str, AlertEvent] = {}
    back: dict[str, datetime] = {}
    for ev in src.events:
        if ev.rule not in src.silent_rules:
            continue
        if ev.alert_id not in began and src.within(ev.ts):
            began[ev.alert_id] = ev
        if ev.state == "resolved":
            back[ev.alert_id] = ev.ts
    rows = [
        (
            ev.subject,
            ev.rule,
            _at(ev.started_at or ev.ts),
            _at(back[a]) if a in back else _("still silent"),
        )
        for a, ev in began.items()
    ]
    return Table(
        _("Sensors that went silent ({n})", n=len(rows)),
        [_("subject"), _("rule"), _("silent from"), _("back")],
        rows,
        _("No sensor went silent."),
        key="silent-sensors",
    )


def _intro(src: Sources) -> list[str]:
    in_window = sum(1 for e in src.entries if src.within(e.event_ts))
    lines = [
        _(
            "event {event}, from {start} to {end} (UTC)",
            event=src.event,
            start=_at(src.start),
            end=_at(src.end),
        ),
        _("{n} control log entries in the period", n=in_window),
    ]
    if any(e.drill for e in src.entries if src.within(e.event_ts)):
        lines.append(_("DRILL entries are included (marked in the log)"))
    lines += [_("could not read: {problem}", problem=p) for p in src.problems]
    return lines


def handover(src: Sources) -> Report:
    """The shift handover for the shift [src.start, src.end)."""
    unacked, acked = active_tables(src)
    return Report(
        _("Shift handover: {event}", event=src.event),
        tuple(_intro(src)),
        (
            open_incidents(src),
            unacked,
            acked,
            silences_table(src),
            decisions_table(src),
            closed_table(src),
            failed_table(src),
            silent_table(src),
        ),
    )


def _stats(values: Sequence[timedelta]) -> tuple[str, str]:
    if not values:
        return "—", "—"
    median = timedelta(seconds=statistics.median(v.total_seconds() for v in values))
    return fmt_delta(median), fmt_delta(max(values))


def per_category(src: Sources) -> Table:
    """Per category: alerts, time to acknowledge (median, worst), unacknowledged; incidents,
    time to close (median, worst), still open."""
    fired: dict[str, datetime] = {}
    acked: dict[str, datetime] = {}
    kind: dict[str, str] = {}
    for ev in src.events:
        if not src.within(ev.ts) and ev.alert_id not in fired:
            continue
        kind.setdefault(ev.alert_id, ev.kind)
        if ev.state in ("firing", "acknowledged"):
            fired.setdefault(ev.alert_id, ev.ts)
        if ev.state == "acknowledged":
            acked.setdefault(ev.alert_id, ev.ts)
    found = [i for i in incidents(src.entries) if src.within(i.opened.event_ts)]
    rows = []
    for category in sorted(
        {category_of(k) for k in kind.values()} | {i.opened.category for i in found}
    ):
        ids = [a for a in fired if category_of(kind[a]) == category]
        to_ack = [acked[a] - fired[a] for a in ids if a in acked]
        mine = [i for i in found if i.opened.category == category]
        to_close = [i.time_to_close for i in mine if i.time_to_close is not None]
        rows.append(
            (
                category,
                str(len(ids)),
                *_stats(to_ack),
                str(len(ids) - len(to_ack)),
                str(len(mine)),
                *_stats(to_close),
                str(sum(1 for i in mine if i.is_open)),
            )
        )
    return Table(
        _("Response per category"),
        [
            _("category"),
            _("alerts"),
            _("median time to acknowledge"),
            _("worst"),
            _("not acknowledged"),
            _("incidents"),
            _("median time to close"),
            _("worst"),
            _("still open"),
        ],
        rows,
        _("No alerts and no incidents in the period."),
        key="per-category",
    )


def timeline(src: Sources) -> Any:
    """A plotly timeline per category: alerts (firing to resolved) and incidents (opened to
    closed) as bars, on the event's clock."""
    import plotly.graph_objects as go

    fig = go.Figure()

    def bar(y: str, start: datetime, stop: datetime, color: str, text: str, upper: bool) -> None:
        timeline_bar(fig, y, start, stop, color, text, upper)

    first: dict[str, AlertEvent] = {}
    end: dict[str, datetime] = {}
    for ev in src.events:
        if src.within(ev.ts) or ev.alert_id in first:
            first.setdefault(ev.alert_id, ev)
            if ev.state == "resolved":
                end[ev.alert_id] = ev.ts
    for a, ev in first.items():
        bar(
            category_of(ev.kind),
            ev.ts,
            end.get(a, src.end),
            SEVERITY_COLOURS.get(ev.severity, "#999"),
            f"{ev.severity.upper()} {ev.rule} · {ev.subject}",
            upper=False,
        )
    for i in incidents(src.entries):
        if src.within(i.opened.event_ts):
            stop = i.closed.event_ts if i.closed else src.end
            bar(
                i.opened.category,
                i.opened.event_ts,
                stop,
                "#2a9d8f" if i.closed else "#e63946",
                f"#{i.id[:8]} {i.opened.text[:80]}",
                upper=True,
            )
    fig.update_layout(
        barmode="overlay",
        xaxis={"type": "date", "title": _("event clock (UTC)")},
        yaxis={"title": "", "autorange": "reversed"},
        height=max(320, 40 * len({t.y[0] for t in fig.data}) + 140),
        margin={"l": 160, "r": 20, "t": 30, "b": 40},
    )
    return fig


def event_day(src: Sources) -> Report:
    """The event-day report: response per category, a timeline, and the handover's sections."""
    shift = handover(src)
    legend = _(
        "Timeline: per category, the upper bar is an incident (green: closed, red: open) and "
        "the lower bar an alert (orange: warning, purple: critical) from its first transition "
        "to its resolution."
    )
    return Report(
        _("Event-day report: {event}", event=src.event),
        (*shift.intro, legend),
        (per_category(src), *shift.tables),
        timeline(src),
    )
