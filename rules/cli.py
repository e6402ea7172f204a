"""The `opsroom rules` sub-command: its flags and how it runs."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from opsroom.command import Command, add_common, stop_on_signals
from opsroom.configfile import ConfigError
from opsroom.settings import Settings
from opsroom.store import open_store

log = logging.getLogger("opsroom.rules")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of `opsroom rules`."""
    add_common(p)
    p.add_argument(
        "--rules",
        type=Path,
        help="rules file (OPSROOM_RULES); required: `opsroom init DIR` writes a starter set",
    )
    p.add_argument("--venue", type=Path, help="venue file (OPSROOM_VENUE); required")
    p.add_argument(
        "--notifiers",
        type=Path,
        help="notifiers file (OPSROOM_NOTIFIERS; see examples/notifiers.yaml); none: MQTT only",
    )
    p.add_argument(
        "--plans",
        type=Path,
        help="contingency plans file (OPSROOM_PLANS; see examples/plans.yaml): a firing alert "
        "of a rule with a plan activates it in the control log",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        help="where the rules state and the notification log are kept "
        "(OPSROOM_DATA_DIR; default opsroom-data)",
    )


def _need(path: Path | None, what: str, flag: str, env: str, hint: str) -> Path:
    if path is None:
        raise ConfigError("settings", [f"{what}: pass {flag} FILE or set {env}{hint}"])
    return path


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the rules service until SIGINT/SIGTERM: alerts from readings, on MQTT and stored."""
    from opsroom.families import FAMILIES
    from opsroom.rulesfile.model import load_rules
    from opsroom.rulesfile.subjects import subjects_of
    from opsroom.silences import Known
    from opsroom.venue import load_venue
    from rules.engine import Engine
    from rules.notify import NotifierSet, load_notifiers
    from rules.service import EngineLike, RulesService

    example = " (`opsroom init DIR` writes a starter {})"
    rules_file = _need(
        settings.rules, "no rules file", "--rules", "OPSROOM_RULES", example.format("rules.yaml")
    )
    venue_file = _need(
        settings.venue, "no venue file", "--venue", "OPSROOM_VENUE", example.format("venue.yaml")
    )
    venue = load_venue(venue_file)
    ruleset = load_rules(rules_file, venue)
    for warning in ruleset.warnings:
        log.warning("%s: %s", rules_file, warning)
    notifiers = load_notifiers(settings.notifiers) if settings.notifiers else NotifierSet()
    plans = None
    if settings.plans is not None:
        from opsroom.plans import load_plans

        plans = load_plans(
            settings.plans,
            [r.id for r in ruleset.rules],
            [e.id for _, _, items in venue.sections() for e in items],
        )

    def engine(state: dict[str, Any] | None) -> EngineLike:
        return Engine(ruleset, venue, state)

    store = open_store(settings)
    stop = stop_on_signals()
    known = Known(
        frozenset(r.id for r in ruleset.rules), frozenset(subjects_of(venue)), frozenset(FAMILIES)
    )
    service = RulesService(
        settings, store, engine, venue, notifiers=notifiers, known=known, plans=plans
    )
    try:
        service.run(stop)
    finally:
        store.close()
    return 0


COMMANDS = (
    Command(
        "rules",
        "readings -> rules -> alerts on MQTT, in the store and to notifiers",
        add_arguments,
        run,
        settings_from_args=("rules", "notifiers", "plans", "data_dir"),
    ),
)
