"""Notifiers: alert transitions out to webhooks and to chat, SMS and e-mail services (apprise).

Over 400 lines on purpose: the stages below are small, but they share the per-notifier queue,
worker and attempt log; split apart, each would import the others' internals.

Small stages, each tested alone:
- route: a notifier takes the transitions whose severity and state it lists;
- queue: one bounded FIFO and one worker thread per notifier, so a dead endpoint holds up
  neither the MQTT path nor the other notifiers, and one notifier's messages keep their order;
- send: the notifier says whether a failure is worth retrying (timeouts, refused connections,
  5xx: yes; 4xx: no);
- retry: exponential back-off (1, 2, 4, 8 s by default) for a bounded number of attempts;
- record: every attempt, kept in memory and appended as a JSON line for the dashboard.

The notifiers file (see examples/notifiers.yaml):

    retry: {attempts: 5, backoff_s: 1, max_backoff_s: 60, timeout_s: 10, queue_size: 1000}
    notifiers:
      - name: ops-webhook
        type: webhook
        url: https://hooks.example.org/opsroom/${OPS_WEBHOOK_TOKEN}
        severities: [warning, critical]
        states: [firing, resolved]
      - type: apprise
        url: tgram://${TELEGRAM_BOT_TOKEN}/${TELEGRAM_CHAT_ID}
        severities: [critical]

`${NAME}` is replaced by the environment variable NAME when the file is loaded (a missing one
is an error that stops start-up); secrets belong in the environment, never in the file. URLs
are never logged: log lines and attempt records name the notifier, and every delivery error
goes through `opsroom.redact` with the values substituted into the URL and headers (a failing
request can quote its own URL).
"""

from __future__ import annotations

import http.client
import logging
import os
import queue
import re
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, Protocol

import apprise
from pydantic import Field, model_validator

from opsroom import __version__, redact
from opsroom.alerts import AlertEvent, NotificationAttempt, Severity, State
from opsroom.clock import Clock, utcnow
from opsroom.configfile import ConfigError, FieldError, Strict, load_model
from opsroom.i18n import _
from rules.escalation import EscalationPolicy, Policies
from rules.lifecycle import cleared_before_firing

log = logging.getLogger("opsroom.rules.notify")
RECENT_ATTEMPTS = 1000  # attempts kept in memory
RETRY_HTTP = frozenset({408, 425, 429})  # 4xx codes that mean "try again later"
DEFAULT_SEVERITIES: tuple[Severity, ...] = ("warning", "critical")
DEFAULT_STATES: tuple[State, ...] = ("firing", "resolved")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


# -- configuration --------------------------------------------------------------------------


class RetryPolicy(Strict):
    """How deliveries are retried; the defaults wait 1, 2, 4 and 8 s between five attempts."""

    attempts: int = Field(5, ge=1, le=20, description="attempts per transition, the first included")
    backoff_s: float = Field(1.0, ge=0, le=600, description="wait after the first failure")
    max_backoff_s: float = Field(60.0, ge=0, le=3600, description="longest wait")
    timeout_s: float = Field(10.0, gt=0, le=300, description="per webhook request")
    queue_size: int = Field(
        1000, ge=1, le=1_000_000, description="transitions waiting per notifier"
    )

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based): doubling, capped."""
        return float(min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s))


class NotifierConfig(Strict):
    """One notifier: where to send, and which transitions to send there."""

    type: Literal["webhook", "apprise"]
    url: str | list[str] = Field(
        description="webhook: one http(s) URL; apprise: one URL or a list (mailto://, tgram://, "
        "slack://, ...). ${NAME} is taken from the environment"
    )
    name: str | None = Field(None, min_length=1, max_length=100)
    severities: list[Severity] = Field(
        default_factory=lambda: list(DEFAULT_SEVERITIES), min_length=1
    )
    states: list[State] = Field(default_factory=lambda: list(DEFAULT_STATES), min_length=1)
    headers: dict[str, str] = Field(default_factory=dict, description="webhook only")
    drill: bool = Field(True, description="also send drill alerts (titled [DRILL])")

    @model_validator(mode="after")
    def _shape(self) -> NotifierConfig:
        if self.type == "webhook" and not isinstance(self.url, str):
            raise FieldError(("url",), "a webhook takes one URL: add one notifier per URL")
        if not self.urls() or any(not u.strip() for u in self.urls()):
            raise FieldError(("url",), "URL is empty")
        if self.headers and self.type != "webhook":
            raise FieldError(("headers",), "only a webhook takes headers")
        return self

    def urls(self) -> list[str]:
        """The URL templates, as a list."""
        return [self.url] if isinstance(self.url, str) else list(self.url)


class NotifiersFile(Strict):
    """The notifiers file: the notifiers and the retry policy they share."""

    notifiers: list[NotifierConfig] = Field(default_factory=list)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    escalation: dict[Severity, EscalationPolicy] = Field(
        default_factory=dict, description="per severity: tiers and repeat (rules.escalation)"
    )

    @model_validator(mode="after")
    def _unique_names(self) -> NotifiersFile:
        seen: set[str] = set()
        for i, n in enumerate(self.notifiers):
            name = n.name or f"{n.type}-{i + 1}"
            if name in seen:
                raise FieldError(("notifiers", i, "name"), f"name {name!r} is used twice")
            seen.add(name)
        for severity, policy in self.escalation.items():
            for t, tier in enumerate(policy.tiers):
                for j, name in enumerate(tier.notify):
                    if name not in seen:
                        raise FieldError(
                            ("escalation", severity, "tiers", t, "notify", j),
                            f"no notifier is named {name!r} (names: {', '.join(seen) or 'none'})",
                        )
        return self


def expand_env(text: str, env: Mapping[str, str]) -> str:
    """Replace every ${NAME} in `text` by the variable NAME; KeyError names one unset or empty."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if not env.get(name):
            raise KeyError(name)
        return env[name]

    return _VAR.sub(value, text)


def substituted(text: str, env: Mapping[str, str]) -> list[str]:
    """The values `expand_env` puts into `text`: secrets to mask in every message."""
    return [env.get(name, "") for name in _VAR.findall(text)]


# -- notifiers ------------------------------------------------------------------------------


class DeliveryError(Exception):
    """A notifier could not deliver; `retryable` says whether trying again may help."""

    def __init__(self, reason: str, retryable: bool) -> None:
        self.reason = reason
        self.retryable = retryable
        super().__init__(reason)


class Notifier(Protocol):
    """Sends one alert transition somewhere; raises DeliveryError when it cannot."""

    name: str
    type: str

    def send(self, event: AlertEvent) -> None:
        """Deliver `event` once (no retries: the dispatcher retries)."""
        ...


def describe(event: AlertEvent) -> tuple[str, str]:
    """A title and a plain-text body for a person reading the transition on a phone."""
    drill = _("[DRILL] ") if event.drill else ""
    title = drill + _(
        "{severity} {state}: {rule} at {subject}",
        severity=_(event.severity).upper(),
        state=_(event.state),
        rule=event.rule,
        subject=event.subject,
    )
    lines = [event.message or event.rule]
    if event.value is not None:
        lines.append(_("value: {value}", value=f"{event.value:g}"))
    lines.append(_("at: {ts}", ts=event.ts.isoformat(timespec="seconds")))
    if event.started_at is not None and event.started_at != event.ts:
        lines.append(_("since: {ts}", ts=event.started_at.isoformat(timespec="seconds")))
    if event.actor:
        by = _("acknowledged by {actor}", actor=event.actor)
        lines.append(by + (f": {event.note}" if event.note else ""))
    lines.append(_("alert: {alert_id}", alert_id=event.alert_id))
    if event.plan is not None and event.state != "resolved":
        title += " — " + _("plan: {name}", name=event.plan.name)
        lines.append(_("plan: {name}", name=event.plan.name))
        lines.extend(f"  {step}" for step in event.plan.first_steps)
    return title, "\n".join(lines)


class WebhookNotifier:
    """POSTs the AlertEvent as JSON; timeouts, refused connections, 5xx and 429 are retryable."""

    type = "webhook"

    def __init__(
        self,
        name: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 10,
        secrets: Sequence[str] = (),
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("a webhook URL must start with http:// or https://")
        self.name = name
        self._url = url
        self._secrets = (*secrets, *(headers or {}).values())
        self._headers = {
            "Content-Type": "application/json",
            "User-Agent": f"opsroom/{__version__}",
            **(headers or {}),
        }
        self._timeout = timeout_s

    def send(self, event: AlertEvent) -> None:
        """POST the event once; DeliveryError says why it failed and whether to retry."""
        body = event.model_dump_json().encode()
        # the scheme was checked in __init__: http(s) only, never file:// or ftp://
        request = urllib.request.Request(self._url, body, self._headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                response.read(65_536)
        except urllib.error.HTTPError as exc:
            exc.close()
            retryable = exc.code >= 500 or exc.code in RETRY_HTTP
            raise DeliveryError(self._redact(f"HTTP {exc.code} {exc.reason}"), retryable) from None
        except urllib.error.URLError as exc:  # refused, unreachable, DNS, connect timeout
            raise DeliveryError(self._redact(f"cannot connect: {exc.reason}"), True) from None
        except (OSError, http.client.HTTPException) as exc:  # read timeout, reset, bad reply
            # http.client quotes the URL in some errors (a stray space in a token)
            raise DeliveryError(self._redact(f"{type(exc).__name__}: {exc}"), True) from None

    def _redact(self, text: str) -> str:
        return redact.redact(text, [self._url, *self._secrets])


_APPRISE_TYPES = {
    "info": apprise.NotifyType.INFO,
    "warning": apprise.NotifyType.WARNING,
    "critical": apprise.NotifyType.FAILURE,
}
# apprise reports failures through its logger; the capture is process-wide, so one apprise
# delivery runs at a time to keep each failure's reason with its own notifier
_APPRISE_LOCK = threading.Lock()


class AppriseNotifier:
    """Sends a title and text through apprise (e-mail, Telegram, Slack, SMS gateways, ...).

    Apprise only says that a delivery failed, not why in a form we can classify, so every
    failure is taken as retryable; the reason recorded is apprise's first warning.
    """

    type = "apprise"

    def __init__(self, name: str, url: str, secrets: Sequence[str] = ()) -> None:
        self.name = name
        self._secrets = tuple(secrets)
        self._apprise = apprise.Apprise()
        if not self._apprise.add(url):
            raise ValueError("apprise does not recognise this URL (see the apprise wiki)")

    def send(self, event: AlertEvent) -> None:
        """Notify once; DeliveryError (retryable) with apprise's reason on failure."""
        title, body = describe(event)
        kind = apprise.NotifyType.SUCCESS if event.state == "resolved" else None
        with (
            _APPRISE_LOCK,
            apprise.LogCapture(level=logging.WARNING) as captured,  # type: ignore[no-untyped-call]
        ):
            ok = self._apprise.notify(
                body=body, title=title, notify_type=kind or _APPRISE_TYPES[event.severity]
            )
            output = captured.getvalue()
        if not ok:
            lines = [line.split(" - ", 2)[-1] for line in output.splitlines() if line.strip()]
            reason = lines[0] if lines else "apprise reported a failure"
            raise DeliveryError(redact.redact(reason, self._secrets), True)


@dataclass(frozen=True, slots=True)
class Route:
    """Which transitions a notifier takes."""

    severities: frozenset[str]
    states: frozenset[str]
    drill: bool = True

    def accepts(self, event: AlertEvent) -> bool:
        """True if `event` goes to this notifier.

        A pending alert that cleared before firing resolves too; that `resolved` goes only to
        notifiers that were told about `pending`, since nobody else heard of the alert.
        """
        state = event.state
        if state == "resolved" and cleared_before_firing(event.message):
            state = "pending"
        return (
            event.severity in self.severities
            and state in self.states
            and (self.drill or not event.drill)
        )


@dataclass(frozen=True)
class NotifierSet:
    """Notifiers with their routes, and the retry policy they share."""

    entries: tuple[tuple[Notifier, Route], ...] = ()
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    escalation: Policies = field(default_factory=dict)


def build_notifiers(
    config: NotifiersFile, source: str, env: Mapping[str, str] | None = None
) -> NotifierSet:
    """Make the notifiers a validated file describes; ConfigError names each bad entry."""
    env = os.environ if env is None else env
    problems: list[str] = []
    entries: list[tuple[Notifier, Route]] = []
    for i, cfg in enumerate(config.notifiers):
        name = cfg.name or f"{cfg.type}-{i + 1}"
        route = Route(frozenset(cfg.severities), frozenset(cfg.states), cfg.drill)
        urls = cfg.urls()
        for j, template in enumerate(urls):
            where = f"notifiers[{i}].url" + (f"[{j}]" if len(urls) > 1 else "")
            try:
                url = expand_env(template, env)
                headers = {k: expand_env(v, env) for k, v in cfg.headers.items()}
                secrets = substituted(template, env)
                for v in cfg.headers.values():
                    secrets += substituted(v, env)
                # a library's own log line (apprise at debug) may quote the URL: mask them too
                redact.register(*secrets)
                label = name if len(urls) == 1 else f"{name}[{j}]"
                notifier: Notifier
                if cfg.type == "webhook":
                    notifier = WebhookNotifier(
                        label, url, headers, config.retry.timeout_s, secrets=secrets
                    )
                else:
                    notifier = AppriseNotifier(label, url, secrets=secrets)
            except KeyError as exc:
                problems.append(f"{where}: environment variable {exc.args[0]} is not set")
                continue
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                continue
            entries.append((notifier, route))
    if problems:
        raise ConfigError(source, problems)
    return NotifierSet(tuple(entries), config.retry, dict(config.escalation))


def load_notifiers(path: str | Path, env: Mapping[str, str] | None = None) -> NotifierSet:
    """Load, validate and build a notifiers file; ConfigError names the file, line and field."""
    return build_notifiers(load_model(NotifiersFile, path), str(path), env)


# -- delivery -------------------------------------------------------------------------------


class _Lane:
    """One notifier's bounded FIFO and the thread that delivers it, retrying with back-off."""

    def __init__(self, notifier: Notifier, route: Route, dispatcher: Dispatcher) -> None:
        self.notifier = notifier
        self.route = route
        self._d = dispatcher
        self.queue: queue.Queue[tuple[int, AlertEvent]] = queue.Queue(dispatcher.policy.queue_size)
        # queued or being delivered, by submission number: what a restart must send again
        self.outstanding: dict[int, AlertEvent] = {}
        self.lock = threading.Lock()
        self.thread = threading.Thread(
            target=self._run, name=f"notify-{notifier.name}", daemon=True
        )

    def put(self, seq: int, event: AlertEvent) -> None:
        """Queue `event` (raises queue.Full)."""
        with self.lock:
            self.queue.put_nowait((seq, event))
            self.outstanding[seq] = event

    def _run(self) -> None:
        while True:
            try:
                seq, event = self.queue.get(timeout=0.1)
            except queue.Empty:
                if self._d.stopping.is_set():
                    return
                continue
            if self.deliver(event) is not None:
                with self.lock:
                    del self.outstanding[seq]
                self._d.settled()

    def deliver(self, event: AlertEvent) -> bool | None:
        """Send `event`, retrying while it is worth it; True once delivered, False when given
        up, None when the service stopped first (it stays outstanding, for the next start)."""
        policy = self._d.policy
        for attempt in range(1, policy.attempts + 1):
            try:
                self.notifier.send(event)
            except DeliveryError as exc:
                why = None
                if not exc.retryable:
                    why = "not retryable"
                elif attempt == policy.attempts:
                    why = "no attempts left"
                elif self._d.stopping.is_set():
                    self._defer(event, attempt, exc)
                    return None
                delay = None if why else policy.delay(attempt)
                self._d.record(self.notifier, event, attempt, exc.reason, exc.retryable, delay)
                if delay is not None and self._d.stopping.wait(delay):
                    self._defer(event, attempt, None)
                    return None
                if why is not None:
                    log.warning(
                        "notifier %s gave up on %s (%s) after %d attempt(s), %s: %s",
                        self.notifier.name,
                        event.alert_id,
                        event.state,
                        attempt,
                        why,
                        exc.reason,
                    )
                    self._d.count("failed")
                    return False
            except Exception as exc:  # a bug in a notifier must not end its lane
                log.exception("notifier %s crashed on %s", self.notifier.name, event.alert_id)
                self._d.record(self.notifier, event, attempt, f"internal error: {exc!r}", False)
                self._d.count("failed")
                return False
            else:
                self._d.record(self.notifier, event, attempt, None, None)
                self._d.count("delivered")
                return True
        return False  # pragma: no cover (the loop always returns)

    def _defer(self, event: AlertEvent, attempt: int, exc: DeliveryError | None) -> None:
        """The service stops mid-retry: keep the event for the next start, not give it up."""
        if exc is not None:
            self._d.record(
                self.notifier, event, attempt, exc.reason, exc.retryable, None, deferred=True
            )
        log.warning(
            "notifier %s: %s (%s) not delivered yet; kept for the next start",
            self.notifier.name,
            event.alert_id,
            event.state,
        )
        self._d.count("deferred")


def _labels(name: str, label: str) -> tuple[str, ...]:
    """`label` if it is one URL `name[j]` of notifier `name`."""
    return (label,) if label.startswith(name + "[") and label.endswith("]") else ()


class Dispatcher:
    """Hands alert transitions to notifiers without blocking the caller; records every attempt.

    `submit` never blocks: a transition that finds a notifier's queue full is dropped for that
    notifier, counted and logged.
    """

    def __init__(
        self,
        notifiers: NotifierSet,
        log_path: Path | None = None,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self.policy = notifiers.policy
        self.escalation = notifiers.escalation
        self.clock = clock
        self.stopping = threading.Event()
        self._lanes = [_Lane(n, r, self) for n, r in notifiers.entries]
        self._lock = threading.Lock()
        self._recent: deque[NotificationAttempt] = deque(maxlen=RECENT_ATTEMPTS)
        self._counters = {
            "submitted": 0,
            "attempts": 0,
            "delivered": 0,
            "failed": 0,
            "dropped": 0,
            "deferred": 0,
            "log_errors": 0,
        }
        self._seq = 0
        self._settled = 0
        self._log_path = log_path
        self._log: IO[bytes] | None = None
        self._started = False

    @property
    def notifiers(self) -> list[str]:
        """Names of the notifiers, in file order."""
        return [lane.notifier.name for lane in self._lanes]

    def start(self) -> None:
        """Open the attempt log and start one worker per notifier."""
        if self._log_path is not None:
            try:
                self._log_path.parent.mkdir(parents=True, exist_ok=True)
                self._log = self._log_path.open("ab")
            except OSError as exc:
                log.error("cannot open notification log %s: %s", self._log_path, exc)
        for lane in self._lanes:
            lane.thread.start()
        self._started = True

    def submit(self, event: AlertEvent, only: str | None = None) -> int:
        """Queue `event` for every notifier that takes it (or for notifier `only`, as a restart
        does with what it had not delivered, and an escalation with its tier's notifiers:
        `name` is also every URL `name[j]` of a notifier with several); returns how many took it.
        An escalation skips the notifier's severity and state routes: the policy chose it."""
        taken = 0
        lanes = [
            lane
            for lane in self._lanes
            if only is None or lane.notifier.name in (only, *_labels(only, lane.notifier.name))
        ]
        if only is not None and not lanes:
            log.warning(
                "notifier %s is no longer configured: %s (%s) is not sent",
                only,
                event.alert_id,
                event.state,
            )
        for lane in lanes:
            escalated = event.escalation_tier is not None and (lane.route.drill or not event.drill)
            if not (escalated or lane.route.accepts(event)):
                continue
            with self._lock:
                self._seq += 1
                seq = self._seq
            try:
                lane.put(seq, event)
            except queue.Full:
                self.count("dropped")
                log.error(
                    "notifier %s is %d transitions behind: dropped %s (%s)",
                    lane.notifier.name,
                    lane.queue.qsize(),
                    event.alert_id,
                    event.state,
                )
                continue
            taken += 1
        if taken:
            self.count("submitted", taken)
        return taken

    def count(self, name: str, n: int = 1) -> None:
        """Add to one counter (thread-safe)."""
        with self._lock:
            self._counters[name] += n

    def counters(self) -> dict[str, int]:
        """A copy of the counters, with the number of transitions waiting."""
        with self._lock:
            out = dict(self._counters)
        out["queued"] = sum(lane.queue.qsize() for lane in self._lanes)
        return out

    def pending(self) -> list[tuple[str, AlertEvent]]:
        """(notifier, event) for every transition not delivered or given up yet, in order."""
        out = []
        for lane in self._lanes:
            with lane.lock:
                out += [(lane.notifier.name, e) for e in lane.outstanding.values()]
        return out

    @property
    def settled_count(self) -> int:
        """How many transitions were delivered or given up (changes what `pending` holds)."""
        return self._settled

    def settled(self) -> None:
        """A lane finished with one transition."""
        with self._lock:
            self._settled += 1

    def recent(self) -> list[NotificationAttempt]:
        """The latest attempts, oldest first."""
        with self._lock:
            return list(self._recent)

    def record(
        self,
        notifier: Notifier,
        event: AlertEvent,
        attempt: int,
        error: str | None,
        retryable: bool | None,
        next_in_s: float | None = None,
        *,
        deferred: bool = False,
    ) -> NotificationAttempt:
        """Keep one attempt's outcome in memory and append it to the log file."""
        if error is not None:  # the log is shown on the dashboard: no credentials in it
            error = redact.redact(error)
        entry = NotificationAttempt(
            at=self.clock(),
            notifier=notifier.name,
            type=notifier.type,
            alert_id=event.alert_id,
            state=event.state,
            severity=event.severity,
            drill=event.drill,
            attempt=attempt,
            ok=error is None,
            error=error,
            retryable=retryable,
            next_attempt_in_s=next_in_s,
            deferred=deferred,
            escalation_tier=event.escalation_tier,
            escalated_at=event.ts if event.escalation_tier is not None else None,
        )
        if error is not None:
            log.info(
                "notifier %s: attempt %d for %s (%s) failed: %s%s",
                notifier.name,
                attempt,
                event.alert_id,
                event.state,
                error,
                f"; retry in {next_in_s:g} s" if next_in_s is not None else "",
            )
        line = entry.model_dump_json().encode() + b"\n"
        with self._lock:
            self._counters["attempts"] += 1
            self._recent.append(entry)
            if self._log is not None:
                try:
                    self._log.write(line)
                    self._log.flush()
                except OSError as exc:
                    self._counters["log_errors"] += 1
                    log.error("cannot append to notification log %s: %s", self._log_path, exc)
        return entry

    def close(self, timeout: float = 5.0) -> None:
        """Stop retrying, deliver what is queued once each (within `timeout`), close the log."""
        self.stopping.set()
        if self._started:
            deadline = time.monotonic() + timeout
            for lane in self._lanes:
                lane.thread.join(max(0.0, deadline - time.monotonic()))
        left = len(self.pending())
        if left:
            log.warning("stopping with %d notifications not delivered yet", left)
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None

    def __enter__(self) -> Dispatcher:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
