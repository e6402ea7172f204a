"""A bounded on-disk spool for readings the store could not take.

While the store is down, ingest appends each batch here (fsync'd, then the batch is
acknowledged to the broker) and replays the spool, oldest first, when the store is back.
Files are JSON lines of [kind, sensor_id, ts_us, drill, values]; a segment is deleted only
after all its readings are stored, so a crash mid-replay writes some readings twice, which
the store's idempotent writes absorb. A reading the store refuses for what it holds (not an
outage) is handed to the caller to dead-letter, so that one bad line never wedges the spool.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

from ingest.isolate import is_outage, reason, write_isolating
from opsroom.clock import from_us, to_us
from opsroom.store import Store
from opsroom.telemetry import Reading

log = logging.getLogger("opsroom.ingest.spool")
SEGMENT_BYTES = 8 * 1024 * 1024


class Spool:
    """Segment files in `directory`, at most `max_bytes` in all."""

    def __init__(self, directory: str | Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._seq = max((self._number(p) for p in self._segments()), default=0)
        self._current: Path | None = None
        self.bytes = sum(p.stat().st_size for p in self._segments())
        self.readings = sum(self._count(p) for p in self._segments())
        if self.readings:
            log.warning(
                "spool %s holds %d readings from before; they will be written",
                self.directory,
                self.readings,
            )

    @staticmethod
    def _number(path: Path) -> int:
        return int(path.stem.split("-")[1])

    def _segments(self) -> list[Path]:
        return sorted(self.directory.glob("spool-*.jsonl"), key=self._number)

    @staticmethod
    def _count(path: Path) -> int:
        with path.open("rb") as f:
            return sum(1 for line in f if line.endswith(b"\n"))

    def append(self, readings: list[Reading]) -> bool:
        """Write readings durably; False (nothing written) if the spool is full."""
        data = b"".join(
            orjson.dumps([r.kind, r.sensor_id, to_us(r.ts), r.drill, r.values]) + b"\n"
            for r in readings
        )
        if self.bytes + len(data) > self.max_bytes:
            return False
        if self._current is None or self._current.stat().st_size >= SEGMENT_BYTES:
            self._seq += 1
            self._current = self.directory / f"spool-{self._seq:08d}.jsonl"
        with self._current.open("ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self.bytes += len(data)
        self.readings += len(readings)
        return True

    def _read(self, path: Path, unreadable: list[bytes]) -> Iterator[Reading]:
        with path.open("rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    break  # a torn last line from a crash mid-append: never acknowledged
                try:
                    kind, sensor_id, ts_us, drill, values = orjson.loads(line)
                    ts = from_us(ts_us)
                except (ValueError, TypeError, OverflowError) as exc:  # a damaged file
                    log.error("spool %s: skipping a line that is not a reading (%s)", path, exc)
                    unreadable.append(line)
                    continue
                yield Reading(kind, sensor_id, ts, values, drill)

    def replay_one(
        self,
        store: Store,
        chunk: int = 5000,
        refused: Callable[[Reading, str], None] | None = None,
    ) -> int:
        """Write the oldest segment to the store and delete it; the number of readings stored.

        Readings the store refuses for their content go to `refused` with the reason (and
        are dropped from the spool; logged if there is no `refused`). Raises StoreError (and
        keeps the segment) if the store fails.
        """
        dropped: list[Reading] = []

        def write(batch: list[Reading]) -> int:
            try:
                store.write_readings(batch)
            except Exception as exc:
                if is_outage(exc):
                    raise
                done = write_isolating(store.write_readings, batch, exc)
                for i, error in done.refused:
                    why = reason(error)
                    dropped.append(batch[i])
                    if refused is not None:
                        refused(batch[i], why)
                    else:
                        log.error("spooled reading dropped: %s: %s", batch[i], why)
                if done.outage is not None:
                    raise done.outage from None
                return len(done.written)
            return len(batch)

        segments = self._segments()
        if not segments:
            return 0
        path = segments[0]
        if path == self._current:
            self._current = None  # new appends go to a fresh segment
        batch: list[Reading] = []
        done = 0
        unreadable: list[bytes] = []
        for reading in self._read(path, unreadable):
            batch.append(reading)
            if len(batch) >= chunk:
                done += write(batch)
                batch = []
        if batch:
            done += write(batch)
        size = path.stat().st_size
        path.unlink()
        self.bytes -= size
        self.readings -= done + len(dropped) + len(unreadable)
        return done
