"""Silences and escalations as the Alerts page shows them.

Silences live on the broker (retained on `opsroom/<event>/silences/<id>`, see
opsroom.silences); escalations are read from the rules service's notification log, where each
escalation's attempts carry its tier and event time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from dashboard.cache import Snapshots
from opsroom import silences
from opsroom.alerts import NotificationAttempt
from opsroom.settings import Settings
from opsroom.silences import Silence

FETCH_AGE_S = 5.0  # one broker round trip per 5 s however many screens ask
_SNAPSHOTS = Snapshots(max_age_s=FETCH_AGE_S)
COLUMNS = ["id", "state", "matches", "starts_at", "ends_at", "author", "reason"]


def escalations(attempts: Sequence[NotificationAttempt]) -> dict[str, tuple[int, datetime]]:
    """alert id -> (tier, event time) of its latest escalation."""
    out: dict[str, tuple[int, datetime]] = {}
    for a in attempts:
        if a.escalation_tier is not None and a.escalated_at is not None:
            seen = out.get(a.alert_id)
            if seen is None or a.escalated_at >= seen[1]:
                out[a.alert_id] = (a.escalation_tier, a.escalated_at)
    return out


def escalation_label(tier: int, at: datetime, tz: str) -> str:
    """`escalated to tier 2 at 18:30:00`, in the event's time zone."""
    local = pd.Timestamp(at).tz_convert(tz)
    return f"escalated to tier {tier} at {local:%H:%M:%S}"


def fetch(settings: Settings, now_s: float) -> tuple[list[Silence], list[str], str | None]:
    """The silences on the broker, shared for FETCH_AGE_S; (silences, bad ones, error)."""

    def compute(_: datetime) -> tuple[list[Silence], list[str], str | None]:
        try:
            found, bad = silences.fetch(settings, timeout=3.0)
        except (ConnectionError, OSError) as exc:
            return [], [], f"cannot read the silences: {exc}"
        return found, bad, None

    return _SNAPSHOTS.take(("silences", str(settings.mqtt), settings.event), now_s, compute)


def forget() -> None:
    """A silence was just added or expired here: the next read goes to the broker."""
    _SNAPSHOTS.clear()


def frame(found: Sequence[Silence], now: datetime, tz: str) -> pd.DataFrame:
    """Silences in force or to come, soonest end first; text shown as text."""
    rows = [
        {
            "id": s.id,
            "state": "in force" if s.in_force(now) else "to come",
            "matches": s.describe(),
            "starts_at": s.starts_at,
            "ends_at": s.until,
            "author": s.author,
            "reason": s.reason,
        }
        for s in sorted(silences.in_force(found, now), key=lambda s: s.until)
    ]
    out = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("starts_at", "ends_at"):
        out[col] = pd.to_datetime(out[col], utc=True).dt.tz_convert(tz)
    return out
