"""Readings from sensors the venue file does not list: counted, and reported in summary lines.

A stream of distinct unknown ids (a misconfigured fleet, or someone probing) must cost neither
memory nor log space per id. So nothing is remembered per sensor beyond the current interval,
and the ids of one interval are kept only up to `MAX_TRACKED`; a line goes out at most once per
interval: the first unknown reading is reported at once, what follows is summed up in the
next line (written by the next unknown reading after the interval, by `flush`, or at stop).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

MAX_TRACKED = 1000  # distinct ids counted per interval; beyond it the line says "at least"
EXAMPLES = 5  # ids named in a line


class UnknownSensors:
    """Bookkeeping for one service's readings from sensors not in the venue file.

    `what` says what the service did with them ("stored", "dead-lettered", ...). Thread-safe:
    ingest notes readings on paho's thread and flushes from its writer.
    """

    def __init__(
        self,
        log: logging.Logger,
        what: str,
        interval_s: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.what = what
        self.interval_s = interval_s
        self.clock = clock
        self.total = 0  # readings from unknown sensors since start
        self._lock = threading.Lock()
        self._readings = 0  # since the last line
        self._ids: set[tuple[str, str]] = set()  # since the last line, at most MAX_TRACKED
        self._examples: list[tuple[str, str]] = []
        self._more = False  # ids beyond MAX_TRACKED came in this interval
        self._last_line: float | None = None

    @property
    def tracked(self) -> int:
        """How many ids are held in memory now (never more than MAX_TRACKED)."""
        return len(self._ids)

    def note(self, kind: str, sensor_id: str) -> None:
        """A reading from `kind` sensor `sensor_id`, which is not in the venue file."""
        key = (kind, sensor_id)
        with self._lock:
            self.total += 1
            self._readings += 1
            if key not in self._ids:
                if len(self._ids) < MAX_TRACKED:
                    self._ids.add(key)
                    if len(self._examples) < EXAMPLES:
                        self._examples.append(key)
                else:
                    self._more = True
            line = self._due()
        if line:
            self.log.warning(line[0], *line[1])

    def flush(self, force: bool = False) -> None:
        """Write the summary line if one is due (or, with `force`, if anything is untold)."""
        with self._lock:
            line = self._due(force)
        if line:
            self.log.warning(line[0], *line[1])

    def _due(self, force: bool = False) -> tuple[str, tuple[object, ...]] | None:
        """The line to write now, resetting the interval's tally; None if none is due."""
        if not self._readings:
            return None
        now = self.clock()
        if not force and self._last_line is not None and now - self._last_line < self.interval_s:
            return None
        sensors = f"at least {len(self._ids)}" if self._more else str(len(self._ids))
        named = ", ".join(f"{k}/{s}" for k, s in self._examples)
        others = len(self._ids) - len(self._examples)
        if self._more or others > 0:
            named += " and others"
        since = (
            "since start"
            if self._last_line is None
            else f"in the last {now - self._last_line:.0f} s"
        )
        line = (
            "%d reading(s) from %s sensor(s) not in the venue file (%s) %s: %s",
            (self._readings, sensors, self.what, since, named),
        )
        self._readings, self._ids, self._examples, self._more = 0, set(), [], False
        self._last_line = now
        return line
