"""Alerts: active and history with filters, acknowledge (as the logged-in user) with a note,
readings around, escalations and silences."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dashboard import (
    auth,
    cache,
    charts,
    controllog,
    lang,
    notifications,
    owners,
    plans,
    queries,
    silencing,
    ui,
)
from dashboard.ack import AckError, publish_ack
from dashboard.lang import _
from opsroom import silences
from opsroom.configfile import ConfigError
from opsroom.families import FAMILIES

COLUMNS = [
    "severity",
    "state",
    "kind",
    "subject",
    "rule",
    "message",
    "value",
    "ts",
    "actor",
    "escalation",
    "silenced_by",
    "drill",
]
HISTORY = [*COLUMNS[:-3], "silenced_by", "drill", "note", "alert_id"]
ACTIVE = [
    *COLUMNS[: COLUMNS.index("actor") + 1],
    "acknowledged_at",
    *COLUMNS[COLUMNS.index("actor") + 1 :],
]
ACKED_BY = {"actor": "acknowledged by", "acknowledged_at": "acknowledged at"}
_IDS = "alerts_active_ids"


def acknowledged_by(active: pd.DataFrame) -> str:
    """Who acknowledged each acknowledged alert, as HTML text in the page (the table is a
    canvas): one `<li class="ops-ack" data-alert-id=... data-actor=...>` per alert."""
    acked = active[active["state"] == "acknowledged"] if len(active) else active
    items = [
        f'<li class="ops-ack" data-alert-id="{html.escape(str(row.alert_id), quote=True)}" '
        f'data-actor="{html.escape(str(row.actor), quote=True)}">'
        f"{html.escape(str(row.subject))} · {html.escape(str(row.rule))}: "
        + _("acknowledged by {actor}", actor=f"<b>{html.escape(str(row.actor))}</b>")
        + "</li>"
        for row in acked.itertuples()
    ]
    return f'<ul class="ops-acks">{"".join(items)}</ul>' if items else ""


def _local(frame: pd.DataFrame, tz: str) -> pd.DataFrame:
    if not len(frame):
        return frame
    times = [c for c in ("ts", "acknowledged_at") if c in frame]
    return frame.assign(**{c: frame[c].dt.tz_convert(tz) for c in times})


@st.fragment(run_every=ui.REFRESH_S)
def live(ctx: ui.Context, filters: dict[str, tuple[str, ...]], text: str, window_s: float) -> None:
    """Active alerts and the history, refreshed in place."""
    now = ui.now_s()
    active = cache.active_table(ctx.store_url, now)
    if tuple(active["alert_id"]) != st.session_state.get(_IDS):
        auth.mark_automatic_rerun()  # the page refreshing itself, not the person acting
        st.rerun()  # the acknowledge list below is out of date: redraw the page
    ui.drill_banner(bool(len(active) and active["drill"].any()))
    counts = queries.alert_counts(active)
    st.markdown(
        _(
            "**Active:** {critical} critical · {warning} warning · {info} info",
            critical=counts["critical"],
            warning=counts["warning"],
            info=counts["info"],
        )
    )
    if len(active):
        esc = silencing.escalations(
            cache.notification_log(str(ctx.settings.notification_log)).attempts
        )
        active["escalation"] = [
            silencing.escalation_label(*esc[a], ctx.tz) if a in esc else ""
            for a in active["alert_id"]
        ]
        active = owners.with_owner(ctx, active, now)
        lang.dataframe(
            _local(active[owners.columns(ACTIVE)], ctx.tz),
            hide_index=True,
            width="stretch",
            column_config=ACKED_BY,
        )
        acks = acknowledged_by(active)
        if acks:
            st.markdown(acks, unsafe_allow_html=True)
    else:
        st.success(_("No active alerts."))
    st.subheader(_("History"))
    history = cache.history(
        ctx.store_url,
        now,
        window_s,
        filters["severity"],
        filters["state"],
        filters["kind"],
        text,
    )
    st.caption(_("{n} transitions", n=len(history)))
    lang.dataframe(_local(history[HISTORY], ctx.tz), hide_index=True, width="stretch")
    notification_log(ctx)


NOTIFICATIONS_SHOWN = 200


def notification_log(ctx: ui.Context) -> None:
    """Each notifier's state and its latest delivery attempts, from the rules service's log."""
    st.subheader(_("Notifications"))
    path = ctx.settings.notification_log
    read = cache.notification_log(str(path))
    if read.error:
        st.warning(read.error)
    notifiers = notifications.health(read.attempts)
    if not notifiers:
        st.caption(
            _(
                "No delivery attempts logged yet (the rules service writes them to {path}).",
                path=path,
            )
        )
        return
    ui.notifier_alarms(notifiers, ctx.tz)
    lang.dataframe(notifications.health_frame(notifiers, ctx.tz), hide_index=True, width="stretch")
    attempts = notifications.attempts_frame(read.attempts)
    st.caption(
        _(
            "Latest {shown} of {total} attempts",
            shown=min(len(attempts), NOTIFICATIONS_SHOWN),
            total=len(attempts),
        )
        + (_(" ({n} unreadable lines skipped)", n=read.bad_lines) if read.bad_lines else "")
    )
    lang.dataframe(
        _at_local(attempts.head(NOTIFICATIONS_SHOWN), ctx.tz), hide_index=True, width="stretch"
    )


def _at_local(frame: pd.DataFrame, tz: str) -> pd.DataFrame:
    return frame.assign(at=frame["at"].dt.tz_convert(tz)) if len(frame) else frame


@st.fragment(run_every=ui.REFRESH_S)
def alert_notifications(ctx: ui.Context, alert_id: str) -> None:
    """Who was told about the chosen alert, and whether it got through."""
    read = cache.notification_log(str(ctx.settings.notification_log))
    attempts = notifications.attempts_frame(read.attempts, alert_id)
    if not len(attempts):
        st.caption(_("No notifications were sent for this alert."))
        return
    lang.dataframe(_at_local(attempts, ctx.tz), hide_index=True, width="stretch")


@st.fragment(run_every=ui.CHART_REFRESH_S)
def around(ctx: ui.Context, alert_id: str, title: str) -> None:
    """The subject's readings around the chosen alert."""
    frame = cache.around(ctx.store_url, alert_id, ui.now_s())
    if not len(frame):
        st.info(_("No readings stored around this alert."))
        return
    for field, part in frame.groupby("field", sort=False):
        st.plotly_chart(
            charts.series_chart(
                part.assign(sensor_id=str(field)),
                {},
                f"{title}: {field}",
                str(field),
                timezone=ctx.tz,
            ),
            key=f"around_{field}",
        )


def add_silence_form(ctx: ui.Context) -> None:
    """The form that silences matching alerts for planned work, signed by the login."""
    with st.form("silence_form", clear_on_submit=False):
        c1, c2, c3 = st.columns(3)
        rule = c1.text_input(_("Rule"), key="sil_rule", help=_("a rule id, e.g. cold-holding"))
        entity = c2.text_input(
            _("Entity"), key="sil_entity", help=_("a venue entity, e.g. fridge-3")
        )
        family = c3.selectbox(_("Family"), ["", *sorted(FAMILIES)], key="sil_family")
        duration = st.text_input(_("For"), value="2h", key="sil_for", help="30m, 2h, 1d")
        reason = st.text_area(_("Reason (the planned work)"), key="sil_reason", height=68)
        st.caption(_("As {actor}", actor=ui.current_actor()))
        add = st.form_submit_button(_("Add silence"))
    if not add:
        return
    try:
        silence = silences.build(
            rule=rule.strip() or None,
            entity=entity.strip() or None,
            family=family or None,
            reason=reason,
            author=ui.current_actor(),
            duration=silences.parse_duration(duration),
            known=silences.known_from(ctx.settings),
        )
        silences.publish(ctx.settings, silence)
    except (silences.SilenceError, ConfigError, ConnectionError, OSError) as exc:
        st.error(_("Silence NOT added: {error}", error=exc))
    else:
        silencing.forget()
        auth.audit("silence_add", f"silence={silence.id} {silence.describe()} for {duration}")
        st.success(
            _(
                "Silence {id} added: {matches} for {duration}.",
                id=silence.id,
                matches=silence.describe(),
                duration=duration,
            )
        )


def silences_panel(ctx: ui.Context) -> None:
    """Silences in force or to come; operators also add and expire them (planned work)."""
    allowed = auth.can("silence")
    if allowed:
        add_silence_form(ctx)
    found, bad, error = silencing.fetch(ctx.settings, ui.now_s())
    if error:
        st.warning(error)
    for line in bad:
        st.caption(_("Not a silence (ignored): {line}", line=line))
    table = silencing.frame(found, datetime.now(UTC), ctx.tz)
    if not len(table):
        st.caption(_("No silences in force."))
        return
    lang.dataframe(table, hide_index=True, width="stretch")
    if not allowed:
        return
    with st.form("silence_expire_form"):
        chosen = st.selectbox(_("Silence"), list(table["id"]), key="sil_expire_id")
        expire = st.form_submit_button(_("Expire now"))
    if expire and chosen:
        try:
            silences.expire(ctx.settings, str(chosen))
        except (silences.SilenceError, ConnectionError, OSError) as exc:
            st.error(_("Silence NOT expired: {error}", error=exc))
        else:
            silencing.forget()
            auth.audit("silence_expire", f"silence={chosen}")
            st.success(_("Silence {id} expired.", id=chosen))


def acknowledge(ctx: ui.Context, active: pd.DataFrame) -> str | None:
    """The alert picker and, for those allowed to, the acknowledge form (signed with the
    logged-in user's name); returns the chosen alert's id."""
    if not len(active):
        return None
    options = {
        row.alert_id: f"{_(row.severity).upper()} · {row.subject} · {row.rule} ({_(row.state)})"
        for row in active.itertuples()
    }
    chosen: str | None = st.selectbox(
        _("Alert"), list(options), format_func=lambda i: options[i], key="ack_alert"
    )
    user = auth.current_user()
    if user is None or not user.can("ack"):
        st.caption(_("Viewing only: your role cannot acknowledge alerts."))
        return chosen
    with st.form("ack_form", clear_on_submit=False):
        st.caption(_("Acknowledging as **{user}**", user=user.name))
        note = st.text_area(_("Note"), key="ack_note", height=80)
        sent = st.form_submit_button(_("Acknowledge"), type="primary")
    if sent and chosen:
        try:
            topic = publish_ack(ctx.settings, chosen, user.name, note)
        except AckError as exc:
            st.error(str(exc))
        except (ConnectionError, OSError) as exc:
            st.error(_("Acknowledgement NOT sent: {error}", error=exc))
        else:
            auth.audit("ack_sent", f"alert={chosen}")  # the rules service records "ack" applied
            st.success(
                _(
                    "Acknowledgement sent for {alert} by {user} ({topic}).",
                    alert=options[chosen],
                    user=user.name,
                    topic=topic,
                )
            )
    return chosen


context = ui.context()
st.title(_("Alerts"))
now_s = ui.now_s()
active_now = cache.active_table(context.store_url, now_s)
st.session_state[_IDS] = tuple(active_now["alert_id"])

chosen_filters: dict[str, tuple[str, ...]] = {"severity": (), "state": (), "kind": ()}
search, history_window = "", float(ui.WINDOWS["24 h"])
if not auth.kiosk():  # the wall screen has no controls: everything, over 24 h
    with st.expander(_("Filters"), expanded=False):
        c1, c2, c3 = st.columns(3)
        chosen_filters = {
            "severity": tuple(
                c1.multiselect(
                    _("Severity"), ["critical", "warning", "info"], format_func=_, key="f_sev"
                )
            ),
            "state": tuple(
                c2.multiselect(
                    _("State"),
                    ["pending", "firing", "acknowledged", "resolved"],
                    format_func=_,
                    key="f_state",
                )
            ),
            "kind": tuple(
                c3.multiselect(
                    _("Family"),
                    list(queries.FAMILY_LABELS),
                    format_func=lambda k: _(queries.FAMILY_LABELS[k]),
                    key="f_kind",
                )
            ),
        }
        search = st.text_input(_("Search subject, rule or message"), key="f_text")
        history_window = ui.window_picker("alerts_window", default="24 h")

live(context, chosen_filters, search, history_window)

if not auth.kiosk():
    st.subheader(_("Acknowledge") if auth.can("ack") else _("Alert details"))
    selected = acknowledge(context, active_now)
    if selected:
        if auth.can("log") and st.button(
            _("Open an incident from this alert"), key="alert_incident"
        ):
            opened = controllog.open_from_alert(
                context, next(r for r in active_now.itertuples() if r.alert_id == selected)
            )
            if opened is not None:
                st.success(
                    _(
                        "Incident #{id} opened in the control log, linked to the alert.",
                        id=opened.id[:8],
                    )
                )
        if auth.can("log"):
            owners.assign_form(
                context, next(r for r in active_now.itertuples() if r.alert_id == selected)
            )
        plans.alert_section(context, active_now.set_index("alert_id").loc[selected])
        st.subheader(_("Readings around the alert"))
        around(context, selected, str(active_now.set_index("alert_id").loc[selected, "subject"]))
        st.subheader(_("Notifications for this alert"))
        alert_notifications(context, selected)

    st.subheader(_("Silences"))
    silences_panel(context)
