"""Recording entries: into the store (the record), then on MQTT (the live feed).

The store is written first and is what counts: an entry the broker did not take is still
recorded, and every dashboard finds it on its next read of the store. The caller is told
that the live feed missed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opsroom import topics
from opsroom.controllog.model import LogEntry
from opsroom.mqtt import publish_confirmed
from opsroom.settings import Settings
from opsroom.store import Store


@dataclass(frozen=True)
class Recorded:
    """What became of a write: stored always (or it raised), published unless `problem`."""

    entries: tuple[LogEntry, ...]
    problem: str | None = None

    @property
    def published(self) -> bool:
        """True if the broker confirmed every entry."""
        return self.problem is None


def messages(event: str, entries: Sequence[LogEntry]) -> list[tuple[str, bytes]]:
    """(topic, JSON) of each entry on `opsroom/<event>/log/<category>/<id>`."""
    return [
        (topics.log_entry(event, e.category, e.id), e.model_dump_json().encode()) for e in entries
    ]


def publish(settings: Settings, entries: Sequence[LogEntry], timeout: float = 5.0) -> None:
    """Publish entries at QoS 1, not retained, and wait for the broker's PUBACKs.

    Raises ConnectionError when the broker cannot be reached or does not confirm.
    """
    sent = [(topic, body, False) for topic, body in messages(settings.event, entries)]
    publish_confirmed(settings, "log", sent, "the log entries", timeout)


def record(
    store: Store, settings: Settings, entries: Sequence[LogEntry], timeout: float = 5.0
) -> Recorded:
    """Store the entries (raises StoreError if it cannot), then publish them."""
    store.write_log(entries)
    try:
        publish(settings, entries, timeout)
    except (ConnectionError, OSError) as exc:
        return Recorded(tuple(entries), f"recorded, but not published live: {exc}")
    return Recorded(tuple(entries))
