"""Injectable clocks: services take a clock, tests pin it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The wall clock, timezone-aware UTC."""
    return datetime.now(UTC)


def fixed(at: datetime) -> Clock:
    """A clock pinned at one instant (for tests)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return lambda: at


def to_us(ts: datetime) -> int:
    """Epoch microseconds of an aware datetime: the storage key's time part."""
    return int(ts.timestamp() * 1_000_000)


def from_us(us: int) -> datetime:
    """Aware UTC datetime from epoch microseconds."""
    return datetime.fromtimestamp(us / 1_000_000, UTC)
