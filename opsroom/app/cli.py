"""The `opsroom` command: the top-level parser, made of each service's sub-commands.

Each service package declares its commands in its own `cli.py` (`COMMANDS`: flags and how
it runs); the commands of the entry layer itself are in commands.py, query.py and audit.py.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import dashboard.cli
import ingest.cli
import rules.cli
import simulators.cli
from opsroom import __version__, i18n, redact
from opsroom.app import audit, commands, controllog, init, query, reports, silence, users
from opsroom.configfile import ConfigError
from opsroom.i18n import _
from opsroom.store import StoreError

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command: the services' and the entry layer's own."""
    parser = argparse.ArgumentParser(
        prog="opsroom",
        description="Live monitoring for the operations room of a large event.",
    )
    parser.add_argument("--version", action="version", version=f"opsroom {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.register_demo(sub)
    init.register_init(sub)
    for command in (*ingest.cli.COMMANDS, *rules.cli.COMMANDS):
        command.register(sub)
    commands.register_check_config(sub)
    commands.register_health(sub)
    commands.register_mosquitto_acl(sub)
    for command in (*dashboard.cli.COMMANDS, *simulators.cli.COMMANDS):
        command.register(sub)
    query.register(sub)
    audit.register(sub)
    controllog.register(sub)
    users.register(sub)
    silence.register(sub)
    reports.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `opsroom` command."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(query.negative_times_as_values(argv))
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for h in logging.getLogger().handlers:  # every log line, ours or a library's
        redact.install(h)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    sys.excepthook = _redacted_excepthook
    handler: Handler = args.handler
    try:
        i18n.use(os.environ.get("OPSROOM_LOCALE") or i18n.DEFAULT)
    except ValueError as exc:
        print(f"opsroom: OPSROOM_LOCALE: {exc}", file=sys.stderr)
        return 2
    try:
        return handler(args)
    except ConfigError as exc:
        print(
            _("opsroom: configuration error: {error}", error=redact.redact(str(exc))),
            file=sys.stderr,
        )
        return 2
    except StoreError as exc:
        print(_("opsroom: store error: {error}", error=redact.redact(str(exc))), file=sys.stderr)
        return 1
    except ConnectionError as exc:
        print(f"opsroom: {redact.redact(str(exc))}", file=sys.stderr)
        return 1


def _redacted_excepthook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
    """An unexpected crash still prints its traceback, with credentials masked."""
    import traceback

    text = "".join(traceback.format_exception(kind, exc, tb))
    print(redact.redact(text), file=sys.stderr, end="")


if __name__ == "__main__":
    sys.exit(main())
