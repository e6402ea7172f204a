"""What each incident type should make the rules raise, and the record a drill logs of it.

The expected rule ids come from the rules file when one is given (matched by the words in
their ids); without it the expectation is described by family and condition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from opsroom.venue import Venue
from simulators.drill import Incident


@dataclass(frozen=True)
class Expectation:
    """The alert an incident type should raise: on which family, and what condition."""

    kind: str
    alert: str
    words: tuple[str, ...]  # words a matching rule id contains
    alerting: bool = True  # False: the incident shows as dead letters, not as an alert


EXPECTED: dict[str, Expectation] = {
    "freezer_failure": Expectation(
        "coldchain", "freezer above -18 °C (warning) / -12 °C (critical)", ("freezer",)
    ),
    "fridge_door_open": Expectation(
        "coldchain", "cold holding above 5 °C (warning) / 8 °C (critical)", ("cold", "fridge")
    ),
    "hot_holding_cooling": Expectation("coldchain", "hot holding below 63 °C", ("hot",)),
    "generator_trip": Expectation(
        "power", "outage: voltage below 10 % of nominal / power drop", ("outage", "drop", "trip")
    ),
    "voltage_sag": Expectation("power", "voltage outside +10 / -15 % of nominal", ("voltage",)),
    "overload": Expectation("power", "load above 80 % / 95 % of rated kVA", ("load",)),
    "gate_surge": Expectation(
        "crowd", "gate flow above 66 / 82 persons per metre per minute", ("flow", "gate")
    ),
    "zone_over_capacity": Expectation(
        "crowd", "occupancy above 85 % / 95 % of licensed capacity", ("capacity", "occupancy")
    ),
    "shuttle_breakdown": Expectation(
        "shuttle", "stopped for 5 min away from a stop", ("stopped", "stationary")
    ),
    "shuttle_off_route": Expectation(
        "shuttle", "outside the route corridor for 60 s", ("geofence", "corridor", "route")
    ),
    "overspeed": Expectation("shuttle", "above the route's speed limit for 30 s", ("speed",)),
    "sensor_silent": Expectation(
        "*", "silent device: no reading for 3 intervals, or status offline", ("silent", "offline")
    ),
    "malformed_payloads": Expectation(
        "*", "no alert: ingest dead-letters each payload with its reason", (), alerting=False
    ),
}


def rule_ids(rules_file: Path) -> list[str]:
    """The ids of the rules in a rules file (any mapping with an `id` under `rules`)."""
    data = yaml.safe_load(rules_file.read_text(encoding="utf-8"))
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("id"), str):
                found.append(node["id"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(data.get("rules", data) if isinstance(data, dict) else data)
    return found


# the rule ids of examples/rules.yaml each incident type should fire (by target family)
KNOWN_RULES: dict[str, dict[str, tuple[str, ...]]] = {
    "freezer_failure": {"*": ("freezer",)},
    "fridge_door_open": {"fridge": ("cold-holding",), "freezer": ("freezer",)},
    "hot_holding_cooling": {"*": ("hot-holding",)},
    "generator_trip": {"*": ("power-interruption", "power-drop")},
    "voltage_sag": {"*": ("power-voltage",)},
    "overload": {"*": ("generator-load",)},
    "gate_surge": {"*": ("gate-flow",)},
    "zone_over_capacity": {"*": ("zone-occupancy",)},
    "shuttle_breakdown": {"*": ("shuttle-stopped",)},
    "shuttle_off_route": {"*": ("shuttle-off-route",)},
    "overspeed": {"*": ("shuttle-overspeed",)},
    "sensor_silent": {"shuttle": ("silent-gps",), "*": ("silent-device",)},
    "malformed_payloads": {"*": ()},
}


def expected_rules(incident_type: str, ids: Iterable[str], target_type: str = "") -> list[str]:
    """The rule ids (of `ids`) an incident type should fire on a target of `target_type`.

    `target_type` is the target's catering type or sensor kind. Ids of the example rules file
    are known; in another rules file, ids containing the incident's words are taken.
    """
    ids = list(ids)
    by_type = KNOWN_RULES[incident_type]
    known = by_type.get(target_type) or by_type.get("*", ())
    found = [r for r in known if r in ids]
    if found or not EXPECTED[incident_type].alerting:
        return found
    words = EXPECTED[incident_type].words
    return [r for r in ids if any(w in r.lower() for w in words)]


def subjects(inc: Incident, venue: Venue) -> list[str]:
    """The alert subjects an incident may show up on: its target and what it spills onto."""
    out = [inc.target]
    if inc.type == "zone_over_capacity":
        out += [g.id for g in venue.gates if g.zone == inc.target]
    if inc.type == "gate_surge":
        out += [g.zone for g in venue.gates if g.id == inc.target and g.zone is not None]
    return out


def sensor_kind(venue: Venue, sensor_id: str) -> str:
    """The family a venue sensor belongs to ('' if unknown)."""
    for (kind, sid), _ in venue.sensors().items():
        if sid == sensor_id:
            return kind
    return ""


def target_type(venue: Venue, sensor_id: str) -> str:
    """A catering unit's type (fridge, freezer, hot_holding), else the sensor's kind."""
    for unit in venue.catering:
        if unit.id == sensor_id:
            return unit.type
    return sensor_kind(venue, sensor_id)


def incident_id(inc: Incident, index: int) -> str:
    """The id of the drill's `index`-th incident (0-based), as logs and reports name it."""
    return f"{index + 1:02d}-{inc.type}-{inc.target}"


def incident_record(
    inc: Incident,
    index: int,
    venue: Venue,
    anchor: datetime,
    rules: Sequence[str] = (),
) -> dict[str, Any]:
    """The JSON record of an injected incident (log file and drill/incidents topic)."""
    exp = EXPECTED[inc.type]
    start = anchor + inc.at
    params = inc.model_dump(mode="json", exclude={"type", "at", "target", "duration", "note"})
    return {
        "id": incident_id(inc, index),
        "type": inc.type,
        "target": inc.target,
        "kind": sensor_kind(venue, inc.target),
        "subjects": subjects(inc, venue),
        "start": start.isoformat(),
        "end": (start + inc.duration).isoformat(),
        "offset_s": inc.at.total_seconds(),
        "duration_s": inc.duration.total_seconds(),
        "params": params,
        "note": inc.note,
        "expected": {
            "kind": exp.kind,
            "alert": exp.alert,
            "alerting": exp.alerting,
            "rules": expected_rules(inc.type, rules, target_type(venue, inc.target)),
        },
    }
