"""Acknowledging an alert: a JSON message on `opsroom/<event>/ack/<alert_id>` at QoS 1."""

from __future__ import annotations

from datetime import datetime

import orjson

from opsroom import topics
from opsroom.clock import utcnow
from opsroom.mqtt import publish_confirmed
from opsroom.settings import Settings

MAX_ACTOR = 100
MAX_NOTE = 2000


class AckError(ValueError):
    """The acknowledgement was not sent; the message says why."""


def ack_payload(actor: str, note: str, ts: datetime) -> bytes:
    """The acknowledgement's JSON body: {"actor", "note", "ts"} (`ts`: this sender's clock, kept
    by the rules service as information; the acknowledgement is dated by its event clock)."""
    actor = actor.strip()
    if not actor:
        raise AckError("enter your name to acknowledge")
    if len(actor) > MAX_ACTOR or len(note) > MAX_NOTE:
        raise AckError(f"name at most {MAX_ACTOR} characters, note at most {MAX_NOTE}")
    return orjson.dumps({"actor": actor, "note": note.strip(), "ts": ts.isoformat()})


def publish_ack(
    settings: Settings,
    alert_id: str,
    actor: str,
    note: str,
    now: datetime | None = None,
    timeout: float = 5.0,
) -> str:
    """Publish an acknowledgement and wait for the broker's PUBACK; return the topic."""
    if not topics.valid_id(alert_id):
        raise AckError(f"invalid alert id {alert_id!r}")
    payload = ack_payload(actor, note, now or utcnow())
    topic = topics.ack(settings.event, alert_id)
    publish_confirmed(
        settings, "dashboard-ack", [(topic, payload, False)], "the acknowledgement", timeout
    )
    return topic
