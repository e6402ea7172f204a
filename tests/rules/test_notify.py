"""Notifiers against a real HTTP server on 127.0.0.1: routing, retries, classification, records."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from opsroom.alerts import AlertEvent, NotificationAttempt
from opsroom.broker import free_port
from opsroom.configfile import ConfigError
from rules.notify import (
    AppriseNotifier,
    DeliveryError,
    Dispatcher,
    NotifierSet,
    RetryPolicy,
    Route,
    WebhookNotifier,
    describe,
    expand_env,
    load_notifiers,
)
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
FAST = RetryPolicy(attempts=5, backoff_s=0.02, max_backoff_s=0.1, timeout_s=2)
ALL = Route(frozenset({"info", "warning", "critical"}), frozenset({"firing", "resolved"}))


def alert(state: str = "firing", severity: str = "critical", **kw: Any) -> AlertEvent:
    base = {
        "alert_id": "coldchain-critical.smokestack-fridge",
        "rule": "coldchain-critical",
        "subject": "smokestack-fridge",
        "kind": "coldchain",
        "severity": severity,
        "state": state,
        "ts": datetime(2026, 7, 4, 18, 30, tzinfo=UTC),
        "started_at": datetime(2026, 7, 4, 18, 15, tzinfo=UTC),
        "value": 9.5,
        "message": "fridge above 8 °C for 15 min",
    }
    return AlertEvent.model_validate({**base, **kw})


class Target:
    """A local HTTP server that answers with scripted status codes and keeps what it got."""

    def __init__(self, port: int = 0) -> None:
        self.script: list[int] = []
        self.default = 200
        self.delay_s = 0.0
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                target.requests.append((self.path, dict(self.headers), body))
                if target.delay_s:
                    time.sleep(target.delay_s)
                code = target.script.pop(0) if target.script else target.default
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    yield t
    t.close()


def dispatch(
    notifier: Any,
    events: list[AlertEvent],
    tmp_path: Path,
    policy: RetryPolicy = FAST,
    route: Route = ALL,
) -> Dispatcher:
    d = Dispatcher(NotifierSet(((notifier, route),), policy), tmp_path / "attempts.jsonl")
    d.start()
    for e in events:
        d.submit(e)
    return d


def settled(d: Dispatcher, n: int) -> bool:
    c = d.counters()
    return c["delivered"] + c["failed"] >= n and c["queued"] == 0


# -- retry policy and classification ---------------------------------------------------------


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy()
    assert [policy.delay(a) for a in range(1, 5)] == [1, 2, 4, 8]
    assert RetryPolicy(backoff_s=10, max_backoff_s=25).delay(3) == 25


def test_webhook_500_twice_then_200_is_three_attempts_and_delivered(
    target: Target, tmp_path: Path
) -> None:
    target.script = [500, 500, 200]
    d = dispatch(WebhookNotifier("hook", target.url), [alert()], tmp_path)
    try:
        assert wait_until(lambda: settled(d, 1), timeout=10)
    finally:
        d.close()
    attempts = d.recent()
    assert [(a.attempt, a.ok, a.retryable) for a in attempts] == [
        (1, False, True),
        (2, False, True),
        (3, True, None),
    ]
    assert attempts[0].error == "HTTP 500 Internal Server Error"
    assert attempts[0].next_attempt_in_s == pytest.approx(0.02)
    assert attempts[1].next_attempt_in_s == pytest.approx(0.04)
    assert d.counters()["delivered"] == 1 and d.counters()["failed"] == 0
    # the body is the AlertEvent as on MQTT
    path, headers, body = target.requests[-1]
    assert path == "/hook"
    assert headers["Content-Type"] == "application/json"
    assert AlertEvent.model_validate_json(body) == alert()
    # every attempt is a JSON line the dashboard can read
    lines = (tmp_path / "attempts.jsonl").read_text().splitlines()
    assert [NotificationAttempt.model_validate_json(x) for x in lines] == attempts


def test_webhook_400_is_not_retried(target: Target, tmp_path: Path) -> None:
    target.script = [400]
    d = dispatch(WebhookNotifier("hook", target.url), [alert()], tmp_path)
    try:
        assert wait_until(lambda: settled(d, 1), timeout=10)
    finally:
        d.close()  # its threads are done: a second attempt would be in by now
    assert len(target.requests) == 1
    [a] = d.recent()
    assert (a.ok, a.retryable, a.next_attempt_in_s) == (False, False, None)
    assert a.error == "HTTP 400 Bad Request"
    assert d.counters()["failed"] == 1


@pytest.mark.parametrize(("code", "retryable"), [(429, True), (503, True), (404, False)])
def test_http_codes_are_classified(target: Target, code: int, retryable: bool) -> None:
    target.script = [code]
    with pytest.raises(DeliveryError) as err:
        WebhookNotifier("hook", target.url).send(alert())
    assert err.value.retryable is retryable


def test_connection_refused_is_retried_until_attempts_run_out(tmp_path: Path) -> None:
    policy = RetryPolicy(attempts=3, backoff_s=0.01)
    url = f"http://127.0.0.1:{free_port()}/"
    d = dispatch(WebhookNotifier("dead", url), [alert()], tmp_path, policy)
    try:
        assert wait_until(lambda: settled(d, 1), timeout=10)
    finally:
        d.close()
    attempts = d.recent()
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert all(not a.ok and a.retryable for a in attempts)
    assert "refused" in (attempts[0].error or "").lower()
    assert attempts[-1].next_attempt_in_s is None
    assert d.counters()["failed"] == 1


def test_timeout_is_retryable(target: Target) -> None:
    target.delay_s = 0.5
    with pytest.raises(DeliveryError) as err:
        WebhookNotifier("slow", target.url, timeout_s=0.1).send(alert())
    assert err.value.retryable
    assert "timed out" in err.value.reason


def test_webhook_refuses_other_schemes() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookNotifier("x", "file:///etc/passwd")


# -- apprise -----------------------------------------------------------------------------------


def test_apprise_json_url_posts_to_the_local_server(target: Target, tmp_path: Path) -> None:
    notifier = AppriseNotifier("chat", f"json://127.0.0.1:{target.port}/")
    d = dispatch(notifier, [alert(), alert("resolved")], tmp_path)
    try:
        assert wait_until(lambda: settled(d, 2), timeout=10)
    finally:
        d.close()
    assert [a.ok for a in d.recent()] == [True, True]
    bodies = [json.loads(body) for _, _, body in target.requests]
    assert bodies[0]["title"] == "CRITICAL firing: coldchain-critical at smokestack-fridge"
    assert "fridge above 8 °C for 15 min" in bodies[0]["message"]
    assert bodies[0]["type"] == "failure"
    assert bodies[1]["type"] == "success"


def test_apprise_failure_is_recorded_with_its_reason_and_retried(
    target: Target, tmp_path: Path
) -> None:
    target.script = [500]
    notifier = AppriseNotifier("chat", f"json://127.0.0.1:{target.port}/")
    d = dispatch(notifier, [alert()], tmp_path)
    try:
        assert wait_until(lambda: settled(d, 1), timeout=10)
    finally:
        d.close()
    first, second = d.recent()
    assert (first.ok, first.retryable) == (False, True)
    assert "JSON" in (first.error or "")
    assert second.ok


def test_apprise_refuses_an_unknown_url() -> None:
    with pytest.raises(ValueError, match="apprise"):
        AppriseNotifier("x", "nosuchservice://abc")


# -- routing, queueing, stopping ------------------------------------------------------------


class Recorder:
    """A notifier that keeps what it was sent, optionally blocking until released."""

    type = "test"

    def __init__(self, name: str = "rec", block: threading.Event | None = None) -> None:
        self.name = name
        self.sent: list[AlertEvent] = []
        self.block = block

    def send(self, event: AlertEvent) -> None:
        if self.block is not None:
            self.block.wait(5)
        self.sent.append(event)


@pytest.mark.parametrize(
    ("event", "taken"),
    [
        (alert("firing", "critical"), True),
        (alert("resolved", "warning"), True),
        (alert("firing", "info"), False),
        (alert("acknowledged", "critical"), False),
        (alert("pending", "critical"), False),
        (alert("firing", "critical", drill=True), False),
        (alert("resolved", "critical", message="cleared before firing: 6 °C"), False),
    ],
)
def test_route_takes_listed_severities_and_states(event: AlertEvent, taken: bool) -> None:
    route = Route(frozenset({"warning", "critical"}), frozenset({"firing", "resolved"}), False)
    assert route.accepts(event) is taken


def test_order_is_kept_per_notifier(tmp_path: Path) -> None:
    rec = Recorder()
    events = [alert(ts=datetime(2026, 7, 4, 18, i, tzinfo=UTC)) for i in range(20)]
    d = dispatch(rec, events, tmp_path)
    try:
        assert wait_until(lambda: len(rec.sent) == 20)
    finally:
        d.close()
    assert rec.sent == events


def test_a_full_queue_drops_without_blocking(tmp_path: Path) -> None:
    release = threading.Event()
    rec = Recorder(block=release)
    policy = RetryPolicy(queue_size=2)
    d = dispatch(rec, [], tmp_path, policy)
    try:
        started = time.monotonic()
        taken = [d.submit(alert(ts=datetime(2026, 7, 4, 18, i, tzinfo=UTC))) for i in range(10)]
        assert time.monotonic() - started < 0.5
        assert sum(taken) <= 3  # one in the worker's hands, two queued
        assert d.counters()["dropped"] == 10 - sum(taken)
        release.set()
        assert wait_until(lambda: len(rec.sent) == sum(taken))
    finally:
        release.set()
        d.close()


def test_close_cuts_a_back_off_short(tmp_path: Path) -> None:
    policy = RetryPolicy(attempts=5, backoff_s=30)
    url = f"http://127.0.0.1:{free_port()}/"
    d = dispatch(WebhookNotifier("dead", url), [alert()], tmp_path, policy)
    assert wait_until(lambda: d.counters()["attempts"] == 1)
    started = time.monotonic()
    d.close(timeout=5)
    assert time.monotonic() - started < 2
    # not given up: kept for the next start of the service
    assert (d.counters()["failed"], d.counters()["deferred"]) == (0, 1)
    assert d.pending() == [("dead", alert())]


def test_queued_transitions_are_pending_until_settled(tmp_path: Path) -> None:
    release = threading.Event()
    rec = Recorder(block=release)
    events = [alert(), alert(severity="warning"), alert("resolved")]
    d = dispatch(rec, events, tmp_path)
    try:
        assert wait_until(lambda: len(d.pending()) == 3)
        assert [e for _, e in d.pending()] == events
        release.set()
        assert wait_until(lambda: d.pending() == [] and d.settled_count == 3)
    finally:
        release.set()
        d.close()


def test_a_stop_mid_retry_logs_the_attempt_as_kept_and_a_restart_sends_it(
    target: Target, tmp_path: Path
) -> None:
    port = free_port()
    dead = WebhookNotifier("sms", f"http://127.0.0.1:{port}/")
    first = dispatch(dead, [alert()], tmp_path, RetryPolicy(attempts=5, backoff_s=30))
    assert wait_until(lambda: first.counters()["attempts"] == 1)
    first.close(timeout=2)
    [(name, event)] = first.pending()
    # the next start: the gateway is back; the kept transition goes to that notifier only
    other = Recorder("other")
    back = WebhookNotifier("sms", target.url)
    second = Dispatcher(NotifierSet(((back, ALL), (other, ALL)), FAST), tmp_path / "a.jsonl")
    assert second.submit(event, only=name) == 1
    assert second.submit(event, only="gone") == 0  # a notifier no longer configured
    second.start()
    try:
        assert wait_until(lambda: settled(second, 1))
    finally:
        second.close()
    assert [AlertEvent.model_validate_json(b) for _, _, b in target.requests] == [alert()]
    assert other.sent == []


def test_describe_is_readable() -> None:
    title, body = describe(alert("acknowledged", actor="duty-1", note="on it", drill=True))
    assert title == "[DRILL] CRITICAL acknowledged: coldchain-critical at smokestack-fridge"
    assert "acknowledged by duty-1: on it" in body
    assert "value: 9.5" in body and "since: 2026-07-04T18:15:00+00:00" in body


# -- the notifiers file -------------------------------------------------------------------------

SAMPLE_ENV = {
    "OPS_WEBHOOK_TOKEN": "t0k",
    "TELEGRAM_BOT_TOKEN": "123456789:ABCdefGhIJKlmnOPQRstuVWXyz012345678",
    "TELEGRAM_CHAT_ID": "-1001234567890",
    "SMTP_USER": "ops",
    "SMTP_PASSWORD": "secret",
    "SLACK_TOKEN_A": "T1JJ3T3L2",
    "SLACK_TOKEN_B": "A1BRTD4JD",
    "SLACK_TOKEN_C": "TIiajkdnlazkcOXrIdevi7FQ",
}


def test_the_sample_notifiers_file_loads() -> None:
    loaded = load_notifiers(ROOT / "examples" / "notifiers.yaml", env=SAMPLE_ENV)
    names = [n.name for n, _ in loaded.entries]
    assert names == ["ops-webhook", "duty-phones[0]", "duty-phones[1]", "ops-slack"]
    assert loaded.policy == RetryPolicy()
    webhook_route = loaded.entries[0][1]
    assert webhook_route.states == {"firing", "acknowledged", "resolved"}
    assert loaded.entries[1][1].drill is False
    [tier1, tier2] = loaded.escalation["critical"].tiers
    assert (tier1.notify, tier2.notify, loaded.escalation["critical"].repeat_min) == (
        ["duty-phones"],
        ["ops-slack"],
        10,
    )


def test_a_missing_secret_names_the_field_and_the_variable() -> None:
    env = {k: v for k, v in SAMPLE_ENV.items() if k != "SLACK_TOKEN_B"}
    with pytest.raises(ConfigError) as err:
        load_notifiers(ROOT / "examples" / "notifiers.yaml", env=env)
    assert "notifiers[2].url: environment variable SLACK_TOKEN_B is not set" in str(err.value)
    assert "T1JJ3T3L2" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("notifiers:\n  - type: pager\n    url: x\n", "line 2: notifiers[0].type"),
        (
            "notifiers:\n  - type: webhook\n    url: [http://a, http://b]\n",
            "line 3: notifiers[0].url: a webhook takes one URL",
        ),
        (
            "notifiers:\n  - type: webhook\n    url: http://a\n    severities: [urgent]\n",
            "line 4: notifiers[0].severities[0]",
        ),
        ("notifiers:\n  - type: webhook\n    url: http://a\n    colour: red\n", "colour"),
        ("notifiers:\n  - type: webhook\n    url: ftp://a\n", "notifiers[0].url: a webhook URL"),
        ("retry:\n  attempts: 0\n", "line 2: retry.attempts"),
        (
            "notifiers:\n  - {type: webhook, url: 'http://a', name: x}\n"
            "  - {type: webhook, url: 'http://b', name: x}\n",
            "notifiers[1].name: name 'x' is used twice",
        ),
    ],
)
def test_bad_notifier_files_name_the_line_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "notifiers.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_notifiers(path, env={})
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_expand_env() -> None:
    assert expand_env("https://x/${A}/${B}?q=$C", {"A": "1", "B": "2"}) == "https://x/1/2?q=$C"
    with pytest.raises(KeyError):
        expand_env("${EMPTY}", {"EMPTY": ""})
