"""The after-action report of a drill: Markdown and a self-contained HTML page with a timeline.

Over 400 lines because one report is written twice, as Markdown and as HTML, section by
section side by side (incidents, response times, plans, unmatched alerts), so that the two
cannot drift; the shared page machinery is in opsroom/reports.

The HTML embeds plotly.js itself (no CDN), so it opens on an ops-room laptop with no internet.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from opsroom.i18n import _, current, ngettext
from opsroom.planrun import PlanRun
from opsroom.reports.page import SEVERITY_COLOURS, fmt_delta, markdown_rule, timeline_bar
from simulators.matching import AlertLife, DeadLetterCheck, InjectedIncident, Matching, Outcome


@dataclass(frozen=True)
class DrillLog:
    """What a drill's incident log holds: the drill header, the incidents, the end record.

    `deadletters`: what became of each malformed_payloads incident's payloads, by incident id
    (empty for logs written before the drill watched dead letters, or without a broker).
    """

    header: dict[str, Any]
    incidents: tuple[InjectedIncident, ...]
    end: dict[str, Any] | None
    deadletters: dict[str, DeadLetterCheck] = field(default_factory=dict)

    @property
    def start(self) -> datetime:
        """The timestamp of the drill's second 0."""
        return datetime.fromisoformat(self.header["start"])

    @property
    def finish(self) -> datetime:
        """The timestamp of the drill's planned end."""
        return datetime.fromisoformat(self.header["end"])


def read_log(path: Path) -> DrillLog:
    """Read a JSON-lines incident log written by `opsroom simulate --log`."""
    header: dict[str, Any] = {}
    incidents: list[InjectedIncident] = []
    end: dict[str, Any] | None = None
    deadletters: dict[str, DeadLetterCheck] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: line {n}: not JSON: {exc}") from exc
        kind = rec.get("record")
        if kind == "drill":
            header = rec
        elif kind == "incident":
            try:
                incidents.append(InjectedIncident.from_record(rec))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}: line {n}: not an incident record ({exc!r})") from exc
        elif kind == "deadletters":
            try:
                deadletters[str(rec["incident"])] = DeadLetterCheck.from_record(rec)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise ValueError(f"{path}: line {n}: not a deadletters record ({exc!r})") from exc
        elif kind == "end":
            end = rec
    if not header:
        raise ValueError(f"{path}: no drill record: is this a log of `opsroom simulate --log`?")
    return DrillLog(header, tuple(incidents), end, deadletters)


def _offset(log: DrillLog, ts: datetime) -> str:
    return "+" + fmt_delta(ts - log.start)


def _verdict(o: Outcome) -> str:
    if o.malformed:
        check = o.deadletters
        if check is None:
            return _("no dead-letter record")
        if o.handled is None:
            return _("n/a (nothing sent)")
        if o.handled:
            return _("handled")
        return _(
            "NOT HANDLED: {missing} of {sent} not dead-lettered",
            missing=check.missing,
            sent=check.sent,
        )
    if o.detected is None:
        return _("n/a (no alert expected)")
    return _("detected") if o.detected else _("MISSED")


def _seconds(s: float | None) -> str:
    return "—" if s is None else f"{s:.2f} s"


def deadletter_note(check: DeadLetterCheck, reasons: int = 3) -> str:
    """`12 sent, 12 dead-lettered (first after 0.01 s, at most 0.04 s); reasons: ...`."""
    text = _("{sent} sent, {dead} dead-lettered", sent=check.sent, dead=check.dead_lettered)
    if check.dead_lettered:
        first, worst = _seconds(check.first_delay_s), _seconds(check.max_delay_s)
        text += _(" (first after {first}, at most {worst})", first=first, worst=worst)
    if check.reasons:
        shown = "; ".join(f"{r} ({n})" for r, n in check.reasons[:reasons])
        more = len(check.reasons) - reasons
        text += _("; reasons: {shown}", shown=shown) + (_("; {n} more", n=more) if more > 0 else "")
    return text


def _summary(m: Matching) -> list[str]:
    parts = [_("{n} of {total} incidents detected", n=m.detected, total=m.expected)]
    if m.malformed:
        parts.append(
            _(
                "{n} of {total} malformed-payload incidents handled",
                n=m.handled,
                total=m.malformed,
            )
        )
    return parts


def _alert(a: AlertLife, quote: str = "") -> str:
    rule = quote + a.rule + quote
    return _(
        "{rule} ({severity}) on {subject}",
        rule=rule,
        severity=a.severity,
        subject=a.subject,
    )


def _columns() -> list[str]:
    return [
        "#",
        _("incident"),
        _("target"),
        _("at"),
        _("duration"),
        _("result"),
        _("to alert"),
        _("to ack"),
        _("to resolve"),
        _("alerts"),
        *_response_columns(),
    ]


def _response_columns() -> list[str]:
    return [_("to assign"), _("to close incident"), _("escalations")]


def _response_cells(o: Outcome) -> list[str]:
    """The control log's side of an incident: time to assign, to close the incident opened
    from its alerts, and how many times they were escalated."""
    escalated = o.response.escalations if o.response is not None else 0
    return [fmt_delta(o.time_to_assign), fmt_delta(o.time_to_close), str(escalated)]


def _row_class(o: Outcome) -> str:
    if o.malformed:
        return "na" if o.handled is None else ("ok" if o.handled else "missed")
    return "na" if o.detected is None else ("ok" if o.detected else "missed")


@dataclass(frozen=True)
class PlanScore:
    """How one incident's plan went: the run its alert activated, scored at the drill's end."""

    number: int  # the incident's row in the report
    incident: InjectedIncident
    run: PlanRun
    alerted_at: datetime | None  # the first of its alerts to fire

    @property
    def to_last_step(self) -> timedelta | None:
        """From the alert to the last step ticked."""
        last = self.run.last_done_at
        return last - self.alerted_at if last and self.alerted_at else None


def plan_scores(m: Matching, plan_runs: Sequence[PlanRun]) -> list[PlanScore]:
    """The plan runs of each incident's alerts (a run names the alert that activated it)."""
    out = []
    for n, o in enumerate(m.outcomes, 1):
        ids = {a.alert_id for a in o.alerts}
        fired = [a.firing_at for a in o.alerts if a.firing_at is not None]
        for run in sorted(plan_runs, key=lambda r: r.activated_at):
            if run.alert_id in ids:
                out.append(PlanScore(n, o.incident, run, min(fired) if fired else None))
    return out


def _plan_columns() -> list[str]:
    return [
        "#",
        _("incident"),
        _("plan"),
        _("activated"),
        _("on time"),
        _("late"),
        _("missed"),
        _("alert to last step"),
        _("steps"),
        _("escalation"),
    ]


def _step_times(log: DrillLog, run: PlanRun) -> str:
    parts = []
    for s in run.steps:
        if s.done_at is not None:
            parts.append(
                _(
                    "{step} {at} by {who} ({state}, due {due})",
                    step=s.step_id,
                    at=_offset(log, s.done_at),
                    who=s.done_by or "?",
                    state=_("on time") if s.state == "done" else _("late"),
                    due=_offset(log, s.due_at),
                )
            )
        elif s.state == "overdue":
            parts.append(_("{step} missed (due {due})", step=s.step_id, due=_offset(log, s.due_at)))
        else:  # due after the drill's end
            parts.append(
                _(
                    "{step} not due by the end (due {due})",
                    step=s.step_id,
                    due=_offset(log, s.due_at),
                )
            )
    return "; ".join(parts)


def _plan_cells(log: DrillLog, p: PlanScore) -> list[str]:
    run = p.run
    return [
        str(p.number),
        f"{p.incident.type} / {p.incident.target}",
        run.name,
        _offset(log, run.activated_at),
        str(run.count("done")),
        str(run.count("late")),
        str(run.count("overdue")),
        fmt_delta(p.to_last_step),
        _step_times(log, run),
        _escalation(log, run),
    ]


def _escalation(log: DrillLog, run: PlanRun) -> str:
    """Whether the plan's steps were still open at its escalation time by the drill's end."""
    if run.escalate_at is None or run.escalate_to is None:
        return _("none in the plan")
    if run.escalation_due:
        return _("due {at}: call in {who}", at=_offset(log, run.escalate_at), who=run.escalate_to)
    if run.escalate_at > log.finish:
        return _("not due by the end (due {at})", at=_offset(log, run.escalate_at))
    return _("not needed: steps done by {at}", at=_offset(log, run.escalate_at))


def plans_markdown(log: DrillLog, scores: Sequence[PlanScore]) -> list[str]:
    """The Markdown lines of the report's "Contingency plans" section."""
    lines = ["", "## " + _("Contingency plans"), ""]
    if not scores:
        return [*lines, _("No plan was activated for an incident.")]
    cols = _plan_columns()
    lines += ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    for p in scores:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in _plan_cells(log, p)) + " |")
    return lines


def plans_html(log: DrillLog, scores: Sequence[PlanScore]) -> str:
    """The HTML of the report's "Contingency plans" section."""
    e = html.escape
    title = f"<h2>{e(_('Contingency plans'))}</h2>"
    if not scores:
        return f"{title}<p>{e(_('No plan was activated for an incident.'))}</p>"
    head = "".join(f"<th>{e(c)}</th>" for c in _plan_columns())
    rows = "".join(
        f'<tr class="{"missed" if p.run.overdue else "ok"}" '
        f'data-plan-id="{e(p.run.plan_id)}">'
        + "".join(f"<td>{e(c)}</td>" for c in _plan_cells(log, p))
        + "</tr>"
        for p in scores
    )
    return (
        f'{title}<table class="plans"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    )


def markdown(
    log: DrillLog, m: Matching, grace: timedelta, plan_runs: Sequence[PlanRun] = ()
) -> str:
    """The report as Markdown."""
    h = log.header
    lines = [
        "# " + _("After-action report: {name}", name=h.get("name", "drill")),
        "",
        "- "
        + _(
            "event `{event}`, seed {seed}, speed {speed}x",
            event=h.get("event", "?"),
            seed=h.get("seed", "?"),
            speed=h.get("speed", "?"),
        ),
        "- "
        + _(
            "drill clock {start} to {end}",
            start=log.start.isoformat(),
            end=log.finish.isoformat(),
        ),
        "- "
        + _(
            "alerts matched by subject within each incident's window + {grace} grace",
            grace=fmt_delta(grace),
        ),
        "- "
        + ", ".join(f"**{part}**" for part in _summary(m))
        + ngettext(
            ", {n} alert matched no incident", ", {n} alerts matched no incident", len(m.unmatched)
        ),
    ]
    if log.end is not None and not log.end.get("completed", True):
        lines.append("- " + _("the drill was stopped before its end"))
    lines += [
        "",
        "## " + _("Incidents"),
        "",
        "| " + " | ".join(_columns()) + " |",
        markdown_rule(len(_columns())),
    ]
    for i, o in enumerate(m.outcomes, 1):
        inc = o.incident
        alerts = ", ".join(_alert(a, "`") for a in o.alerts) or "—"
        if o.expected_rule_fired is False:
            alerts += " — " + _("expected {rules}", rules=", ".join(inc.expected_rules))
        if o.deadletters is not None:
            alerts = deadletter_note(o.deadletters).replace("|", "\\|")
        lines.append(
            f"| {i} | {inc.type} | {inc.target} | {_offset(log, inc.start)} "
            f"| {fmt_delta(inc.end - inc.start)} | {_verdict(o)} | {fmt_delta(o.time_to_alert)} "
            f"| {fmt_delta(o.time_to_ack)} | {fmt_delta(o.time_to_resolve)} | {alerts} | "
            + " | ".join(_response_cells(o))
            + " |"
        )
    missed = [o for o in m.outcomes if o.detected is False]
    if missed:
        lines += ["", "## " + _("Missed"), ""]
        for o in missed:
            inc = o.incident
            lines.append(
                "- "
                + _(
                    "{type} on {target}: expected {alert}",
                    type=inc.type,
                    target=inc.target,
                    alert=inc.expected_alert,
                )
            )
    lines += ["", "## " + _("Alerts that matched no incident"), ""]
    if not m.unmatched:
        lines.append(_("None."))
    for a in m.unmatched:
        lines.append(
            "- "
            + _(
                "`{rule}` ({severity}) on {subject} at {at}, resolved {resolved}",
                rule=a.rule,
                severity=a.severity,
                subject=a.subject,
                at=_offset(log, a.first_at),
                resolved=_offset(log, a.resolved_at) if a.resolved_at else _("no"),
            )
        )
    lines += plans_markdown(log, plan_scores(m, plan_runs))
    lines += ["", _("Times are from the incident's injection, on the drill's clock."), ""]
    return "\n".join(lines)


def timeline_figure(log: DrillLog, m: Matching) -> Any:
    """A Plotly timeline: incidents and alerts as bars per subject, on the drill's clock."""
    import plotly.graph_objects as go

    fig = go.Figure()
    end_of_drill = log.finish

    def bar(name: str, y: str, start: datetime, stop: datetime, color: str, text: str) -> None:
        timeline_bar(fig, y, start, stop, color, text, upper=name == "incident")

    for o in m.outcomes:
        inc = o.incident
        color = {"na": "#888", "ok": "#2a9d8f", "missed": "#e63946"}[_row_class(o)]
        bar(
            "incident",
            inc.target,
            inc.start,
            inc.end,
            color,
            _(
                "{type} on {target}: {verdict}",
                type=inc.type,
                target=inc.target,
                verdict=_verdict(o),
            ),
        )
    alerts: list[AlertLife] = [a for o in m.outcomes for a in o.alerts] + list(m.unmatched)
    for a in alerts:
        stop = a.resolved_at or end_of_drill
        acked = _(", acknowledged {at}", at=_offset(log, a.acked_at)) if a.acked_at else ""
        bar(
            "alert",
            a.subject,
            a.first_at,
            stop,
            SEVERITY_COLOURS.get(a.severity, "#999"),
            _(
                "{alert}: from {start}{acked}, resolved {resolved}",
                alert=_alert(a),
                start=_offset(log, a.first_at),
                acked=acked,
                resolved=_offset(log, a.resolved_at) if a.resolved_at else _("no"),
            ),
        )
    rows = {a.subject for a in alerts} | {o.incident.target for o in m.outcomes}
    fig.update_layout(
        barmode="overlay",
        xaxis={"type": "date", "title": _("drill clock (UTC)")},
        yaxis={"title": "", "autorange": "reversed"},
        height=max(320, 34 * len(rows) + 140),
        margin={"l": 160, "r": 20, "t": 30, "b": 40},
    )
    return fig


def html_page(
    log: DrillLog, m: Matching, grace: timedelta, plan_runs: Sequence[PlanRun] = ()
) -> str:
    """The report as one self-contained HTML page (plotly.js inlined, works offline)."""
    fig = timeline_figure(log, m)
    chart = fig.to_html(full_html=False, include_plotlyjs=True)
    title = html.escape(_("After-action report: {name}", name=log.header.get("name", "drill")))
    summary = ", ".join(f"<strong>{html.escape(part)}</strong>" for part in _summary(m))
    rows = []
    for i, o in enumerate(m.outcomes, 1):
        inc = o.incident
        cls = _row_class(o)
        alerts = ", ".join(_alert(a) for a in o.alerts) or "—"
        if o.deadletters is not None:
            alerts = deadletter_note(o.deadletters)
        cells = [
            str(i),
            inc.type,
            inc.target,
            _offset(log, inc.start),
            fmt_delta(inc.end - inc.start),
            _verdict(o),
            fmt_delta(o.time_to_alert),
            fmt_delta(o.time_to_ack),
            fmt_delta(o.time_to_resolve),
            alerts,
            *_response_cells(o),
        ]
        rows.append(
            f'<tr class="{cls}">' + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"
        )
    unmatched = "".join(
        "<li>"
        + html.escape(_("{alert} at {at}", alert=_alert(a), at=_offset(log, a.first_at)))
        + "</li>"
        for a in m.unmatched
    )
    head = "".join(f"<th>{html.escape(c)}</th>" for c in _columns())
    e = html.escape
    event = "<code>" + e(str(log.header.get("event", "?"))) + "</code>"
    intro = _(
        "Event {event}, drill clock {start} to {end}; {summary}; alerts matched by subject "
        "within each incident's window + {grace}.",
        event=event,
        start=e(log.start.isoformat()),
        end=e(log.finish.isoformat()),
        summary=summary,
        grace=e(fmt_delta(grace)),
    )
    legend = e(
        _(
            "Per subject, the upper bar is an injected incident (green: detected, red: missed, "
            "grey: no alert expected; malformed payloads: green if all were dead-lettered, red "
            "if not) and the lower bar an alert (orange: warning, purple: critical), from its "
            "first transition to its resolution. Hover for details."
        )
    )
    return f"""<!doctype html>
<html lang="{current()}"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, "Noto Sans CJK SC", sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; }}
tr.missed td {{ background: #fde2e4; }} tr.ok td {{ background: #e6f4f1; }}
tr.na td {{ color: #666; }}
</style></head><body>
<h1>{title}</h1>
<p>{intro}</p>
<p>{legend}</p>
{chart}
<h2>{e(_("Incidents"))}</h2>
<table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>
{plans_html(log, plan_scores(m, plan_runs))}
<h2>{e(_("Alerts that matched no incident"))}</h2>
<ul>{unmatched or "<li>" + e(_("None.")) + "</li>"}</ul>
</body></html>
"""


def write_report(
    log: DrillLog, m: Matching, out: Path, grace: timedelta, plan_runs: Sequence[PlanRun] = ()
) -> tuple[Path, Path]:
    """Write drill-report.md and drill-report.html into `out`; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    md, page = out / "drill-report.md", out / "drill-report.html"
    md.write_text(markdown(log, m, grace, plan_runs), encoding="utf-8")
    page.write_text(html_page(log, m, grace, plan_runs), encoding="utf-8")
    return md, page
