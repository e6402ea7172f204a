"""The one place that knows the topic scheme.

opsroom/<event>/<kind>/<sensor_id>                 readings (kind: crowd, power, ...)
opsroom/<event>/status/<sensor_id>                 device status, retained, last will
opsroom/<event>/alerts/<alert_id>                  alert transitions, retained while active
opsroom/<event>/ack/<alert_id>                     acknowledgements from duty officers
opsroom/<event>/deadletter/<kind>/<sensor_id>      rejected payloads with the reason
opsroom/<event>/_sys/<service>                     service counters, retained
opsroom/<event>/drill/incidents                    incidents a drill injects (start and end)
opsroom/<event>/log/<category>/<entry_id>          control log entries (QoS 1, not retained)
opsroom/<event>/silences/<silence_id>              silences for planned work, retained
opsroom/<event>/escalations/<alert_id>             an alert's latest escalation, retained
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

ROOT = "opsroom"
RESERVED = frozenset(
    {"status", "alerts", "ack", "deadletter", "_sys", "drill", "log", "silences", "escalations"}
)
# An id segment: no MQTT wildcards or separators, no leading '$', bounded length.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def valid_id(segment: str) -> bool:
    """True if `segment` can be an event, kind, sensor or alert id in a topic."""
    return _ID.fullmatch(segment) is not None


def reading(event: str, kind: str, sensor_id: str) -> str:
    """Topic a sensor publishes its readings to."""
    return f"{ROOT}/{event}/{kind}/{sensor_id}"


def readings_filter(event: str) -> str:
    """Subscription filter that matches every reading (and the other 3-level topics)."""
    return f"{ROOT}/{event}/+/+"


def status(event: str, sensor_id: str) -> str:
    """Retained online/offline status of a device (its last will)."""
    return f"{ROOT}/{event}/status/{sensor_id}"


def alert(event: str, alert_id: str) -> str:
    """Topic of one alert's transitions."""
    return f"{ROOT}/{event}/alerts/{alert_id}"


def alerts_filter(event: str) -> str:
    """Subscription filter for every alert."""
    return f"{ROOT}/{event}/alerts/+"


def ack(event: str, alert_id: str) -> str:
    """Topic a duty officer's acknowledgement of an alert is published to."""
    return f"{ROOT}/{event}/ack/{alert_id}"


def acks_filter(event: str) -> str:
    """Subscription filter for every acknowledgement."""
    return f"{ROOT}/{event}/ack/+"


def deadletter(event: str, kind: str, sensor_id: str) -> str:
    """Where a rejected payload is republished with its reason."""
    return f"{ROOT}/{event}/deadletter/{kind}/{sensor_id}"


def deadletter_filter(event: str) -> str:
    """Subscription filter for every dead letter."""
    return f"{ROOT}/{event}/deadletter/#"


def system(event: str, service: str) -> str:
    """Retained counters of one service."""
    return f"{ROOT}/{event}/_sys/{service}"


def drill_incidents(event: str) -> str:
    """Where a drill runner announces each incident it injects (JSON, start and end)."""
    return f"{ROOT}/{event}/drill/incidents"


def log_entry(event: str, category: str, entry_id: str) -> str:
    """Where one control log entry is published (a subscriber may filter by category)."""
    return f"{ROOT}/{event}/log/{category}/{entry_id}"


def log_filter(event: str) -> str:
    """Subscription filter for every control log entry."""
    return f"{ROOT}/{event}/log/+/+"


def silence(event: str, silence_id: str) -> str:
    """Retained topic of one silence (an empty retained message removes it)."""
    return f"{ROOT}/{event}/silences/{silence_id}"


def silences_filter(event: str) -> str:
    """Subscription filter for every silence."""
    return f"{ROOT}/{event}/silences/+"


def parse_silence(topic: str, event: str) -> str | None:
    """The silence id of `opsroom/<event>/silences/<id>`; None for any other topic."""
    return _last(topic, event, "silences")


def escalation(event: str, alert_id: str) -> str:
    """Retained topic of an alert's latest escalation (cleared when it stops)."""
    return f"{ROOT}/{event}/escalations/{alert_id}"


@dataclass(frozen=True, slots=True)
class ReadingTopic:
    """A parsed reading topic."""

    event: str
    kind: str
    sensor_id: str


def parse_reading(topic: str) -> ReadingTopic | None:
    """Parse `opsroom/<event>/<kind>/<sensor_id>`; None if the topic is not a reading topic."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != ROOT or parts[2] in RESERVED:
        return None
    return ReadingTopic(parts[1], parts[2], parts[3])


def _last(topic: str, event: str, segment: str) -> str | None:
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != ROOT or parts[1] != event or parts[2] != segment:
        return None
    return parts[3]


def parse_status(topic: str, event: str) -> str | None:
    """The sensor id of `opsroom/<event>/status/<sensor_id>`; None for any other topic."""
    return _last(topic, event, "status")


def parse_ack(topic: str, event: str) -> str | None:
    """The alert id of `opsroom/<event>/ack/<alert_id>`; None for any other topic."""
    return _last(topic, event, "ack")


def parse_alert(topic: str, event: str) -> str | None:
    """The alert id of `opsroom/<event>/alerts/<alert_id>`; None for any other topic."""
    return _last(topic, event, "alerts")


ACL_KIND = "<kind>"


def mosquitto_acl(template: str, kinds: Iterable[str]) -> str:
    """A Mosquitto ACL from its template: each rule with `<kind>` once per family kind."""
    kinds = list(kinds)
    out: list[str] = []
    for line in template.splitlines():
        if ACL_KIND in line and not line.lstrip().startswith("#"):
            out += [line.replace(ACL_KIND, kind) for kind in kinds]
        else:
            out.append(line)
    return "\n".join(out) + "\n"
