"""The commands of the entry layer itself: `demo`, `check-config` and `health`."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from opsroom.command import add_common, settings_from, stop_on_signals
from opsroom.i18n import _, ngettext

if TYPE_CHECKING:
    Sub = argparse._SubParsersAction[argparse.ArgumentParser]


def cmd_demo(args: argparse.Namespace) -> int:
    """Run everything on this machine: broker, store, ingest, rules, a drill, the dashboard."""
    from opsroom.app.demo import DemoOptions, run_demo

    options = DemoOptions(
        data_dir=args.data_dir,
        port=args.port,
        speed=args.speed,
        drill=args.drill,
        venue=args.venue,
        rules=args.rules,
        broker=args.broker,
        seed=args.seed,
        loop=not args.once,
    )
    return run_demo(options, stop_on_signals())


def cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 if a service published its status recently (for container health checks)."""
    from opsroom.health import check

    ok, why = check(settings_from(args), args.service, timedelta(seconds=args.max_age))
    print(why)
    return 0 if ok else 1


def cmd_mosquitto_acl(args: argparse.Namespace) -> int:
    """Write the Mosquitto ACL: the template with its <kind> lines for every sensor family."""
    from opsroom.families import FAMILIES
    from opsroom.topics import mosquitto_acl

    text = mosquitto_acl(Path(args.template).read_text(encoding="utf-8"), FAMILIES)
    if args.out is None:
        print(text, end="")
    else:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{args.out}: ACL for {', '.join(FAMILIES)}")
    return 0


def register_mosquitto_acl(sub: Sub) -> None:
    """`opsroom mosquitto-acl TEMPLATE [--out FILE]`."""
    p = sub.add_parser("mosquitto-acl", help="write the Mosquitto ACL for every sensor family")
    p.add_argument("template", type=Path, help="deploy/mosquitto/acl.template")
    p.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    p.set_defaults(handler=cmd_mosquitto_acl)


def _event_folder(args: argparse.Namespace) -> list[Path]:
    """`check-config DIR`: the folder's venue.yaml, and its rules, notifiers and drills."""
    folder: Path = args.venue_file
    args.venue_file = folder / "venue.yaml"
    if args.rules is None and (folder / "rules.yaml").is_file():
        args.rules = folder / "rules.yaml"
    if args.notifiers is None and (folder / "notifiers.yaml").is_file():
        args.notifiers = folder / "notifiers.yaml"
    if args.plans is None and (folder / "plans.yaml").is_file():
        args.plans = folder / "plans.yaml"
    if args.roster is None and (folder / "roster.yaml").is_file():
        args.roster = folder / "roster.yaml"
    return sorted((folder / "drills").glob("*.yaml"))


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate a venue file (and rules, plans and notifiers files against it).

    Given a folder (as `opsroom init` writes), check its venue.yaml, rules.yaml, plans.yaml,
    roster.yaml, notifiers.yaml and every drill in drills/ against the venue."""
    from opsroom.venue import load_venue

    drills = _event_folder(args) if args.venue_file.is_dir() else []
    venue = load_venue(args.venue_file)
    sensors = venue.sensors()
    print(_("{path}: OK: {name}", path=args.venue_file, name=venue.event.name))
    counts = ", ".join(f"{len(items)} {section.name}" for _f, section, items in venue.sections())
    print(_("  {counts}; {n} sensors", counts=counts, n=len(sensors)))
    exit_code = 0
    if args.rules is not None:
        from opsroom.rulesfile.model import load_rules

        ruleset = load_rules(args.rules, venue)
        # overrides of entities the venue lacks: listed, and errors only with --strict
        warned = ruleset.warnings
        failed = bool(warned) and args.strict
        counted = ngettext(", {n} warning", ", {n} warnings", len(warned)) if warned else ""
        verdict = _("FAILED (--strict: warnings count as errors)") if failed else _("OK")
        print(
            _(
                "{path}: {verdict}: {n} rules{warnings}",
                path=args.rules,
                verdict=verdict,
                n=len(ruleset.rules),
                warnings=counted,
            )
        )
        for warning in warned:
            print(_("  warning: {warning}", warning=warning))
        exit_code = 1 if failed else 0
    roster = None
    if args.roster is not None:
        from opsroom.roster import load_roster

        roster = load_roster(args.roster)
        print(
            _(
                "{path}: OK: {people} people, {teams} teams",
                path=args.roster,
                people=len(roster.people),
                teams=len(roster.teams),
            )
        )
    plans = None
    if args.plans is not None:
        from opsroom.plans import load_plans

        rule_ids = None
        if args.rules is not None:
            rule_ids = [r.id for r in ruleset.rules]
        entity_ids = [e.id for _, _, items in venue.sections() for e in items]
        plans = load_plans(args.plans, rule_ids, entity_ids)
        steps = sum(len(p.steps) for p in plans.plans)
        print(
            _(
                "{path}: OK: {plans} plans, {steps} steps",
                path=args.plans,
                plans=len(plans.plans),
                steps=steps,
            )
        )
        if roster is not None:
            # a role nobody on the roster has (a vendor, the police) is said, not an error
            named = {p.owner_role for p in plans.plans} | {
                s.who for p in plans.plans for s in p.steps
            }
            for role in sorted(named - roster.roles()):
                print(_("  note: plan role {role!r}: nobody on the roster has it", role=role))
        if args.rules is not None:
            # a rule without a plan is allowed, and said: every risk should have one
            covered = {r for p in plans.plans for r in p.triggers.rules}
            for rule in ruleset.rules:
                if rule.id not in covered:
                    print(_("  note: rule {rule!r} starts no plan", rule=rule.id))
    if args.notifiers is not None:
        # the notifiers file is the rules service's; the entry layer may use any service
        from rules.notify import load_notifiers

        notifiers = load_notifiers(args.notifiers)
        names = ", ".join(n.name for n, _r in notifiers.entries) or _("none")
        print(
            _(
                "{path}: OK: {n} notifiers ({names})",
                path=args.notifiers,
                n=len(notifiers.entries),
                names=names,
            )
        )
    if drills:
        from opsroom.configfile import ConfigError
        from simulators.drill import check_against_plans, load_drill

        for path in drills:
            drill = load_drill(path, venue)
            problems = check_against_plans(drill, plans) if plans is not None else []
            if problems:
                raise ConfigError(str(path), problems)
            print(
                _(
                    "{path}: OK: {name!r}, {n} incidents",
                    path=path,
                    name=drill.name,
                    n=len(drill.incidents),
                )
            )
    return exit_code


def register_demo(sub: Sub) -> None:
    """Add `opsroom demo`."""
    p = sub.add_parser(
        "demo",
        help="everything on this machine, no server to install: broker, store, ingest, "
        "rules, a drill on a loop and the dashboard",
        description=cmd_demo.__doc__,
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path("opsroom-data"),
        help="the demo's own folder, emptied on each start (default opsroom-data)",
    )
    p.add_argument("--port", type=int, default=8501, help="dashboard HTTP port (default 8501)")
    p.add_argument(
        "--speed",
        type=float,
        default=60.0,
        help="speed of the drill's first round, which replays up to now (default 60; "
        "later rounds play live)",
    )
    p.add_argument(
        "--drill", type=Path, help="drill file (default examples/drills/opening-rush.yaml)"
    )
    p.add_argument("--venue", type=Path, help="venue file (default examples/venue.yaml)")
    p.add_argument("--rules", type=Path, help="rules file (default examples/rules.yaml)")
    p.add_argument(
        "--broker",
        choices=["auto", "mosquitto", "embedded"],
        default="auto",
        help="auto: Mosquitto if installed, else the embedded amqtt broker (default auto)",
    )
    p.add_argument("--seed", type=int, help="random seed of the drill (default: the drill's)")
    p.add_argument("--once", action="store_true", help="play the drill once, not on a loop")
    p.set_defaults(handler=cmd_demo)


def register_check_config(sub: Sub) -> None:
    """Add `opsroom check-config`."""
    p = sub.add_parser(
        "check-config",
        help="validate a venue file, and rules and notifiers files",
        description=cmd_check_config.__doc__,
    )
    p.add_argument(
        "venue_file",
        metavar="VENUE",
        type=Path,
        help="venue YAML file, or an event folder (venue.yaml, rules.yaml, notifiers.yaml, "
        "drills/*.yaml: each checked)",
    )
    p.add_argument("--rules", type=Path, help="also check this rules file against the venue")
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 if the rules file has warnings (overrides of entities the venue lacks)",
    )
    p.add_argument("--roster", type=Path, help="also check this roster file (people, teams)")
    p.add_argument(
        "--plans",
        type=Path,
        help="also check this plans file (against the rules file's rule ids and the venue)",
    )
    p.add_argument(
        "--notifiers",
        type=Path,
        help="also check this notifiers file (its ${VARIABLES} must be set)",
    )
    p.set_defaults(handler=cmd_check_config)


def register_health(sub: Sub) -> None:
    """Add `opsroom health`."""
    p = sub.add_parser(
        "health",
        help="is a service alive (its status on _sys/SERVICE is recent)?",
        description=cmd_health.__doc__,
    )
    add_common(p, store=False)
    p.add_argument("service", help="service name: ingest, rules, ...")
    p.add_argument("--max-age", type=float, default=60, help="seconds (default 60)")
    p.set_defaults(handler=cmd_health)
