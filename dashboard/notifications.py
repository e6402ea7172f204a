"""The notification log as the rules service writes it: what reached people, and what did not.

The rules service appends one JSON line per delivery attempt to `Settings.notification_log`
(a file in the data directory the services share). The dashboard reads the end of that file:
a duty officer must see when call-outs are failing, not find out after the event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from opsroom.alerts import NotificationAttempt
from opsroom.redact import redact

TAIL_BYTES = 2_000_000  # about 8,000 attempts: the file grows for the whole event
COLUMNS = [
    "at",
    "notifier",
    "type",
    "outcome",
    "attempt",
    "severity",
    "state",
    "alert_id",
    "error",
    "drill",
]


@dataclass(frozen=True)
class AttemptLog:
    """The attempts read from the log, oldest first, and what could not be read."""

    attempts: tuple[NotificationAttempt, ...] = ()
    bad_lines: int = 0
    error: str | None = None


def read_log(path: Path, tail_bytes: int = TAIL_BYTES) -> AttemptLog:
    """The last `tail_bytes` of the log; a missing file is an empty log, not an error.

    A line cut by the window's start, or still being written at the end, is left out; a line
    that is not an attempt is counted in `bad_lines` and skipped.
    """
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            start = max(0, size - tail_bytes)
            f.seek(start)
            data = f.read(size - start)
    except FileNotFoundError:
        return AttemptLog()
    except OSError as exc:
        return AttemptLog(error=redact(f"cannot read the notification log {path}: {exc}"))
    lines = data.split(b"\n")
    if start > 0:
        lines = lines[1:]  # the window began inside a line
    lines = lines[:-1]  # empty after the last newline, or a line still being appended
    attempts = []
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            attempt = NotificationAttempt.model_validate_json(line)
        except ValidationError:
            bad += 1
            continue
        if attempt.error:  # the rules service masks credentials; an older log may not have
            attempt = attempt.model_copy(update={"error": redact(attempt.error)})
        attempts.append(attempt)
    return AttemptLog(tuple(attempts), bad)


def outcome(a: NotificationAttempt) -> str:
    """'delivered', 'retrying in N s', 'kept for restart' or 'gave up' (nothing follows)."""
    if a.ok:
        return "delivered"
    if a.next_attempt_in_s is not None:
        return f"retrying in {a.next_attempt_in_s:g} s"  # translated where shown (lang.cells)
    if a.deferred:
        return "kept for restart"
    return "gave up"


def attempts_frame(
    attempts: Sequence[NotificationAttempt], alert_id: str | None = None
) -> pd.DataFrame:
    """Attempts newest first (of one alert if `alert_id` is given), one row each."""
    rows = [
        {
            "at": a.at,
            "notifier": a.notifier,
            "type": a.type,
            "outcome": outcome(a),
            "attempt": a.attempt,
            "severity": a.severity,
            "state": a.state,
            "alert_id": a.alert_id,
            "error": a.error or "",
            "drill": a.drill,
        }
        for a in reversed(attempts)
        if alert_id is None or a.alert_id == alert_id
    ]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if len(frame):
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        # by time, not by line: each notifier's thread appends its own attempts, so two
        # notifiers' lines can land a millisecond out of order in the file
        frame = frame.sort_values("at", ascending=False, kind="stable").reset_index(drop=True)
    return frame


@dataclass(frozen=True)
class NotifierHealth:
    """One notifier as its attempts show it."""

    notifier: str
    type: str
    failing: bool  # its latest attempt failed
    last_at: datetime
    delivered: int  # transitions delivered
    failed_attempts: int
    gave_up: int  # transitions that never reached anyone
    failing_since: datetime | None  # first failure of the current run of failures
    last_error: str | None


def health(attempts: Sequence[NotificationAttempt]) -> list[NotifierHealth]:
    """Per notifier, in the order they first appear in the log."""
    tally: dict[str, _Tally] = {}
    for a in attempts:
        t = tally.setdefault(a.notifier, _Tally(a))
        t.last = a
        if a.ok:
            t.delivered += 1
            t.since = None
        else:
            t.failed += 1
            t.gave_up += a.next_attempt_in_s is None and not a.deferred
            t.since = t.since or a.at
    return [
        NotifierHealth(
            notifier=name,
            type=t.last.type,
            failing=not t.last.ok,
            last_at=t.last.at,
            delivered=t.delivered,
            failed_attempts=t.failed,
            gave_up=t.gave_up,
            failing_since=t.since,
            last_error=None if t.last.ok else t.last.error,
        )
        for name, t in tally.items()
    ]


@dataclass
class _Tally:
    last: NotificationAttempt
    delivered: int = 0
    failed: int = 0
    gave_up: int = 0
    since: datetime | None = None


def health_frame(notifiers: Sequence[NotifierHealth], tz: str) -> pd.DataFrame:
    """The notifiers as a table for the Alerts page."""
    rows = [
        {
            "notifier": h.notifier,
            "type": h.type,
            "status": "FAILING" if h.failing else "ok",
            "last attempt": pd.Timestamp(h.last_at).tz_convert(tz),
            "delivered": h.delivered,
            "failed attempts": h.failed_attempts,
            "never delivered": h.gave_up,
            "last error": h.last_error or "",
        }
        for h in notifiers
    ]
    return pd.DataFrame(rows)
