"""The rules service's state file: what a restart needs so that it neither duplicates nor
loses an alert (see rules.service for the guarantees).

Beside the engine's snapshot the file holds the event clock, the alert messages the broker has
not confirmed yet, the transitions the store has not written yet, the notifications not
delivered yet, the active alerts' last messages, the escalations under way (rules.escalation)
and the silences (rules.silencer). The worker serialises the state; the
`StateSaver` thread writes it (temp file, fsync, os.replace) and then acknowledges the MQTT
messages the state reflects, so the disk holds up acknowledgements, never alerts.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from opsroom.alerts import AlertEvent
from opsroom.mqtt import Received

if TYPE_CHECKING:
    from rules.service import Counters

log = logging.getLogger("opsroom.rules")
STATE_VERSION = 1
SAVE_COST_FACTOR = 5  # saves are spaced by at least 5x what serialising the state costs
STATE_GRACE_S = 30  # how long saves may fail before messages are acknowledged unsaved


def write_state(path: Path, data: bytes) -> None:
    """Write `data` atomically: a temp file beside `path`, fsync, then os.replace."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_state(path: Path, event: str) -> dict[str, Any] | None:
    """The saved state of `event`, or None (none saved; a bad one is moved aside)."""
    if not path.exists():
        return None
    try:
        state = orjson.loads(path.read_bytes())
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ValueError(f"not a version {STATE_VERSION} rules state")
        if state.get("event") != event:
            raise ValueError(f"state of event {state.get('event')!r}, not {event!r}")
    except (OSError, ValueError) as exc:  # orjson.JSONDecodeError is a ValueError
        set_aside(path, str(exc))
        return None
    return state


def set_aside(path: Path, reason: str) -> None:
    """Move a state file that cannot be used out of the way (kept for a post-mortem)."""
    aside = path.with_name(f"{path.name}.bad-{int(time.time())}")
    log.error(
        "cannot use the saved rules state %s (%s); moved it to %s and starting afresh: "
        "alerts active before the restart are raised again when their conditions hold",
        path,
        reason,
        aside,
    )
    try:
        os.replace(path, aside)
    except OSError as exc:
        log.error("cannot move %s aside: %s", path, exc)


class Resumed(NamedTuple):
    """What a saved state gives back besides the engine's snapshot."""

    clock: str | None  # the event clock, as saved
    newest: datetime | None
    republish: list[tuple[str, bytes, bool]]  # alert messages the broker had not confirmed
    unstored: list[AlertEvent]
    unnotified: list[tuple[str, AlertEvent]]  # (notifier, transition)
    retained: dict[str, bytes]  # alert id -> the active alert's last message


def read_resumable(state: dict[str, Any], path: Path) -> Resumed | None:
    """The clock, unconfirmed messages, unstored and unnotified transitions; None if damaged."""
    try:
        clock = state.get("clock")
        newest = datetime.fromisoformat(clock) if clock else None
        republish = [(str(t), str(p).encode(), bool(r)) for t, p, r in state["unconfirmed"]]
        unstored = [AlertEvent.model_validate(e) for e in state["unstored"]]
        unnotified = [
            (str(name), AlertEvent.model_validate(e)) for name, e in state.get("unnotified", [])
        ]
        retained = {str(k): str(v).encode() for k, v in state.get("retained", {}).items()}
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # pydantic's too
        log.error("the saved rules state %s is damaged (%s): not resumed", path, exc)
        return None
    return Resumed(clock, newest, republish, unstored, unnotified, retained)


def encode_state(
    event: str,
    saved_at: datetime,
    clock: datetime | None,
    engine: dict[str, Any],
    unconfirmed: list[tuple[str, bytes, bool]],
    unstored: list[bytes],
    unnotified: list[tuple[str, AlertEvent]],
    retained: dict[str, bytes],
    extra: dict[str, Any] | None = None,
) -> bytes:
    """The state file's JSON (`unstored`: the transitions' JSON, embedded as it is; `extra`:
    more top-level parts, e.g. escalation and silences)."""
    return orjson.dumps(
        {
            "version": STATE_VERSION,
            "event": event,
            "saved_at": saved_at.isoformat(),
            "clock": clock.isoformat() if clock else None,
            "engine": engine,
            "unconfirmed": [(t, p.decode(), r) for t, p, r in unconfirmed],
            "unstored": [orjson.Fragment(payload) for payload in unstored],
            "unnotified": [(name, orjson.Fragment(e.model_dump_json())) for name, e in unnotified],
            "retained": {k: v.decode() for k, v in retained.items()},
            **(extra or {}),
        }
    )


class StateSaver:
    """Saves the state on its own thread and acknowledges the messages each save covers.

    The worker appends each message it takes to `unsaved`, sets `dirty` (`mark()`) when the
    state changed, and calls `hand_over(serialise)` when `due(...)`. If saves fail for
    STATE_GRACE_S, messages are acknowledged anyway (counted as `acked_unsaved`):
    unacknowledged, they would fill the broker's window and stop the alerts.
    """

    def __init__(
        self,
        path: Path,
        counters: Counters,
        ack: Callable[[list[Received]], None],
        interval_s: float,
    ) -> None:
        self.state_file = path
        self.counters = counters
        self._ack = ack
        self.interval_s = interval_s
        # worker-owned
        self.unsaved: list[Received] = []  # processed, waiting for a save before their ack
        self.dirty = False  # engine state (or what the state file lists) changed since a save
        self._last_save = 0.0
        self._save_cost = 0.0  # seconds the last state serialisation took
        # worker -> saver: the state as JSON and the messages it covers (acked once written)
        self._save_cv = threading.Condition()
        self._save_slot: tuple[bytes, list[Received]] | None = None
        self._save_retry: list[Received] = []  # covered by a save that failed
        self._saving = False
        self._saver_stop = False
        self._save_error: str | None = None
        self._failing_since: float | None = None
        self._saver: threading.Thread | None = None

    def mark(self) -> None:
        """The state changed: it needs saving (from any thread)."""
        self.dirty = True

    def start(self) -> None:
        """Start the saver thread."""
        self._saver = threading.Thread(target=self._save_loop, name="rules-saver", daemon=True)
        self._saver.start()

    def stop(self, timeout: float) -> None:
        """Let the saver write what it was handed, then end it."""
        with self._save_cv:
            self._saver_stop = True
            self._save_cv.notify()
        if self._saver is not None:
            self._saver.join(timeout)

    def due(self, mono: float, quiet: bool) -> bool:
        """Is a save due at `mono`? A big venue's snapshot takes tens of ms of the worker:
        saves are spaced so that they take at most 1/SAVE_COST_FACTOR of it; a `quiet`
        stream (acknowledgements are waiting) saves as soon as that allows."""
        since = mono - self._last_save
        cost = SAVE_COST_FACTOR * self._save_cost
        return since >= max(self.interval_s, cost) or (quiet and since >= cost)

    def final_save(self, serialise: Callable[[], bytes]) -> None:
        """Save on this thread (at stop, when the worker and the saver are done) and
        acknowledge everything the save covers."""
        if self._save_now(serialise):
            self._ack(self._save_retry + self.unsaved)
            self._save_retry, self.unsaved = [], []

    def _save_failed(self, exc: Exception) -> None:
        self.counters.state_errors += 1
        self.dirty = True
        if self._failing_since is None:
            self._failing_since = time.monotonic()
        reason = str(exc)
        if reason != self._save_error:  # once per kind of failure, not every 50 ms
            log.error(
                "cannot save the rules state to %s: %s (messages stay unacknowledged for up to "
                "%d s, then are acknowledged anyway: a crash meanwhile can lose their effect)",
                self.state_file,
                reason,
                STATE_GRACE_S,
            )
        self._save_error = reason

    def _saved(self) -> None:
        self.counters.state_saves += 1
        self._failing_since = None
        if self._save_error is not None:
            log.info("rules state saved to %s again", self.state_file)
            self._save_error = None

    def _save_now(self, serialise: Callable[[], bytes]) -> bool:
        try:
            write_state(self.state_file, serialise())
        except (OSError, TypeError) as exc:  # TypeError: the snapshot is not JSON
            self._save_failed(exc)
            return False
        self._saved()
        return True

    def hand_over(self, serialise: Callable[[], bytes]) -> None:
        """Serialise the state and hand it to the saver with the messages it covers.

        Writing and fsync-ing take milliseconds: on the saver's thread they hold up neither
        the readings nor the alerts behind them, only the acknowledgements.
        """
        with self._save_cv:
            if self._save_slot is not None or self._saving:
                return  # the next save takes everything since
        self._last_save = started = time.monotonic()
        try:
            data = serialise()
        except TypeError as exc:
            self._save_failed(exc)
            return
        self._save_cost = time.monotonic() - started
        with self._save_cv:
            self._save_slot = (data, self._save_retry + self.unsaved)
            self._save_retry, self.unsaved = [], []
            self.dirty = False  # before the saver can fail it and set it again
            self._save_cv.notify()

    def _save_loop(self) -> None:
        while True:
            with self._save_cv:
                while self._save_slot is None and not self._saver_stop:
                    self._save_cv.wait(0.5)
                if self._save_slot is None:
                    return
                (data, msgs), self._save_slot = self._save_slot, None
                self._saving = True
            try:
                write_state(self.state_file, data)
            except OSError as exc:
                self._save_failed(exc)
                if time.monotonic() - (self._failing_since or 0.0) >= STATE_GRACE_S:
                    # Alerts matter more than exactly-once: unacknowledged, the messages would
                    # fill the broker's window and stop the readings (and the alerts) behind them.
                    self.counters.acked_unsaved += len(msgs)
                    self._ack(msgs)
                else:
                    with self._save_cv:
                        self._save_retry = msgs + self._save_retry
            else:
                self._saved()
                self._ack(msgs)
            finally:
                with self._save_cv:
                    self._saving = False
