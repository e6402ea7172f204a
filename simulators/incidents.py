"""What each incident type should make the rules raise, and the record a drill logs of it.

Each family's simulator part declares its incident types (simulators/families/base.py).
The expected rule ids come from the rules file when one is given (matched by the words in
their ids); without it the expectation is described by family and condition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from opsroom.rulesfile.subjects import subjects_of
from opsroom.venue import Venue
from simulators.drill import Incident
from simulators.families import INCIDENTS, SILENT_RULES
from simulators.families.base import Expectation

EXPECTED: dict[str, Expectation] = {
    **{name: t.expect for name, t in INCIDENTS.items()},
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


# the rule ids of examples/rules.yaml each incident type should fire (by target type)
KNOWN_RULES: dict[str, dict[str, tuple[str, ...]]] = {
    **{name: t.rules for name, t in INCIDENTS.items()},
    "sensor_silent": {**SILENT_RULES, "*": ("silent-device",)},
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
    """The alert subjects an incident may show up on: its target, the subjects its readings
    feed (a station's structures), and what it spills onto."""
    spill = INCIDENTS[inc.type].spills_onto if inc.type in INCIDENTS else None
    fed = [s.id for s in subjects_of(venue).values() if s.source == inc.target]
    return [inc.target, *fed, *(spill(inc.target, venue) if spill is not None else ())]


def sensor_kind(venue: Venue, sensor_id: str) -> str:
    """The family a venue sensor belongs to ('' if unknown)."""
    for (kind, sid), _ in venue.sensors().items():
        if sid == sensor_id:
            return kind
    return ""


def target_type(venue: Venue, sensor_id: str) -> str:
    """The entity's subtype (a catering unit's fridge, freezer...), else the sensor's kind."""
    for _, section, items in venue.sections():
        if section.subtype is not None:
            for item in items:
                if item.id == sensor_id:
                    return section.subtype(item)
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
