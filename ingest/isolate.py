"""Find the readings a store refuses in a batch it refused, and write the rest.

A store refuses a batch either because it is down (a StoreError: wait, spool, retry) or
because of what is in it (BadDataError, or any other exception: a bug or a value nobody
foresaw). Retrying the second kind fails forever, and it used to stop ingest for good, so the
batch is written in halves, and halves of those, until every refused reading is alone: one
bad reading among 1,000 costs about 20 writes, and the other 999 are stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from opsroom.store import BadDataError, StoreError
from opsroom.telemetry import Reading


def is_outage(exc: BaseException) -> bool:
    """True if the store failed for itself (worth a retry), not for the data it was given."""
    return isinstance(exc, StoreError) and not isinstance(exc, BadDataError)


def reason(exc: BaseException) -> str:
    """Why the store refused a reading, in one line."""
    if isinstance(exc, StoreError):
        return f"the store refused this reading: {exc}"
    return f"the store refused this reading ({type(exc).__name__}): {exc}"


@dataclass
class Isolated:
    """What `write_isolating` did with a batch, by index into it."""

    written: list[int] = field(default_factory=list)
    refused: list[tuple[int, BaseException]] = field(default_factory=list)
    # not tried because the store went down meanwhile (then `outage` is its error)
    unwritten: list[int] = field(default_factory=list)
    outage: StoreError | None = None


def write_isolating(
    write: Callable[[Sequence[Reading]], None],
    readings: Sequence[Reading],
    error: BaseException,
) -> Isolated:
    """Write `readings`, which the store refused with `error` (not an outage), part by part.

    Refused readings are returned with the error of writing them alone; if the store goes
    down meanwhile, what was not yet written is returned as `unwritten`.
    """
    out = Isolated()
    # a stack of (start, end, error of writing readings[start:end] or None if not yet tried)
    todo: list[tuple[int, int, BaseException | None]] = [(0, len(readings), error)]
    while todo:
        start, end, failed = todo.pop()
        if failed is None:
            try:
                write(readings[start:end])
            except Exception as exc:  # any exception: this is where a bad reading is found
                if is_outage(exc):
                    out.outage = exc  # type: ignore[assignment]
                    out.unwritten = list(range(start, end))
                    out.unwritten += [i for s, e, _ in reversed(todo) for i in range(s, e)]
                    return out
                failed = exc
            else:
                out.written.extend(range(start, end))
                continue
        if end - start == 1:
            out.refused.append((start, failed))
            continue
        middle = (start + end) // 2
        todo.append((middle, end, None))  # popped second: the batch keeps its order
        todo.append((start, middle, None))
    return out
