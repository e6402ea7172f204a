"""The notification log as the dashboard reads it, written by the rules service's dispatcher."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dashboard import notifications
from opsroom.alerts import NotificationAttempt
from opsroom.broker import free_port
from rules.notify import Dispatcher, NotifierSet, RetryPolicy, Route, WebhookNotifier
from tests.conftest import wait_until
from tests.dashboard import data
from tests.rules.test_notify import Target

FAST = RetryPolicy(attempts=3, backoff_s=0.01, max_backoff_s=0.05, timeout_s=2)
ALL = Route(frozenset({"info", "warning", "critical"}), frozenset({"firing", "resolved"}))


def write_log(path: Path, target_url: str) -> list[NotificationAttempt]:
    """One transition sent through a working webhook ('ops-webhook') and a dead one ('sms')."""
    dead = WebhookNotifier("sms", f"http://127.0.0.1:{free_port()}/")
    live = WebhookNotifier("ops-webhook", target_url)
    d = Dispatcher(NotifierSet(((live, ALL), (dead, ALL)), FAST), path)
    d.start()
    try:
        d.submit(data.firing_alert(datetime.now(UTC)))
        assert wait_until(lambda: d.counters()["delivered"] + d.counters()["failed"] >= 2, 10)
    finally:
        d.close()
    return d.recent()


@pytest.fixture
def log(tmp_path: Path) -> tuple[Path, list[NotificationAttempt]]:
    target = Target()
    try:
        path = tmp_path / "notifications-demo.jsonl"
        return path, write_log(path, target.url)
    finally:
        target.close()


def test_reads_every_attempt_the_dispatcher_wrote(log) -> None:
    path, written = log
    read = notifications.read_log(path)
    assert (read.bad_lines, read.error) == (0, None)
    assert sorted(read.attempts, key=lambda a: (a.notifier, a.attempt)) == sorted(
        written, key=lambda a: (a.notifier, a.attempt)
    )
    assert len(read.attempts) == 4  # 1 delivered + 3 refused


def test_health_names_the_failing_notifier_and_what_never_arrived(log) -> None:
    path, _ = log
    by_name = {h.notifier: h for h in notifications.health(notifications.read_log(path).attempts)}
    sms = by_name["sms"]
    assert sms.failing and sms.gave_up == 1 and sms.failed_attempts == 3
    assert "refused" in (sms.last_error or "").lower()
    assert sms.failing_since is not None and sms.failing_since <= sms.last_at
    hook = by_name["ops-webhook"]
    assert not hook.failing and hook.delivered == 1 and hook.gave_up == 0


def test_attempts_frame_is_newest_first_with_outcomes(log) -> None:
    path, _ = log
    frame = notifications.attempts_frame(notifications.read_log(path).attempts)
    assert frame["at"].is_monotonic_decreasing
    sms = frame[frame["notifier"] == "sms"].sort_values("attempt")
    assert sms["outcome"].tolist() == ["retrying in 0.01 s", "retrying in 0.02 s", "gave up"]
    assert frame[frame["notifier"] == "ops-webhook"]["outcome"].tolist() == ["delivered"]
    assert len(notifications.attempts_frame([], None)) == 0
    assert len(notifications.attempts_frame(notifications.read_log(path).attempts, "x")) == 0


def test_a_notifier_that_recovers_is_no_longer_failing(log) -> None:
    path, _ = log
    attempts = list(notifications.read_log(path).attempts)
    last_sms = next(a for a in reversed(attempts) if a.notifier == "sms")
    recovered = last_sms.model_copy(
        update={"ok": True, "error": None, "retryable": None, "attempt": 1, "at": last_sms.at}
    )
    [sms] = [h for h in notifications.health([*attempts, recovered]) if h.notifier == "sms"]
    assert not sms.failing and sms.failing_since is None and sms.gave_up == 1


def test_a_window_into_a_long_log_drops_the_cut_line(log) -> None:
    path, _ = log
    lines = path.read_bytes().splitlines(keepends=True)
    # a window that starts inside the first line and takes the rest whole
    window = sum(len(x) for x in lines[1:]) + 5
    read = notifications.read_log(path, tail_bytes=window)
    assert (len(read.attempts), read.bad_lines) == (len(lines) - 1, 0)


def test_a_line_being_written_and_a_garbage_line(log) -> None:
    path, _ = log
    with path.open("ab") as f:
        f.write(b"not an attempt\n")
        f.write(b'{"at": "2026-07-04T18:00:00Z", "notif')  # the writer is mid-line
    read = notifications.read_log(path)
    assert (len(read.attempts), read.bad_lines) == (4, 1)


def test_no_log_yet_is_empty_and_an_unreadable_one_says_why(tmp_path: Path) -> None:
    assert notifications.read_log(tmp_path / "missing.jsonl") == notifications.AttemptLog()
    read = notifications.read_log(tmp_path)  # a directory where the file should be
    assert read.attempts == () and read.error and str(tmp_path) in read.error


def test_the_pages_read_the_log_again_only_when_it_changes(log, monkeypatch) -> None:
    from dashboard import cache

    path, _ = log
    reads: list[Path] = []
    real = notifications.read_log
    monkeypatch.setattr(notifications, "read_log", lambda p: reads.append(p) or real(p))
    first = cache.notification_log(str(path))
    assert cache.notification_log(str(path)) == first and len(reads) == 1  # unchanged: cached
    line = path.read_bytes().splitlines(keepends=True)[0]
    with path.open("ab") as f:
        f.write(line)  # the rules service appends another attempt
    assert len(cache.notification_log(str(path)).attempts) == len(first.attempts) + 1
    assert len(reads) == 2
