"""What a service's `opsroom` sub-command declares: its flags and how it runs.

Each service package has a `cli.py` with a `COMMANDS` tuple of `Command`s; the entry layer
(opsroom.app.cli) builds the top-level parser from them, loads the settings and dispatches.
The flags every service shares (--event, --mqtt-url, --store, ...) are added here, once.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

from opsroom.settings import Settings

log = logging.getLogger("opsroom")

# the flags that override settings for every command (each only if the command has it)
COMMON_SETTINGS = ("event", "mqtt_url", "mqtt_protocol", "store", "venue")


@dataclass(frozen=True)
class Command:
    """One sub-command: name, help, how it adds its flags, and how it runs with the settings."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Settings], int]
    description: str | None = None  # default: the docstring of `run`
    # flags beyond COMMON_SETTINGS that override the setting of the same name
    settings_from_args: tuple[str, ...] = ()

    def register(self, sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Add this command to the sub-parsers of `opsroom`."""
        p = sub.add_parser(
            self.name, help=self.help, description=self.description or self.run.__doc__
        )
        self.add_arguments(p)
        p.set_defaults(handler=self.handle)

    def handle(self, args: argparse.Namespace) -> int:
        """Load the settings from the environment and the flags, then run."""
        return self.run(args, settings_from(args, self.settings_from_args))


def settings_from(args: argparse.Namespace, extra: tuple[str, ...] = ()) -> Settings:
    """Settings from OPSROOM_* variables with the command's flags on top."""
    return Settings.load({name: getattr(args, name, None) for name in (*COMMON_SETTINGS, *extra)})


def add_common(p: argparse.ArgumentParser, *, mqtt: bool = True, store: bool = True) -> None:
    """The shared flags: --event, and --mqtt-url/--mqtt-protocol and --store when asked."""
    p.add_argument("--event", help="event id, the second topic segment (OPSROOM_EVENT; demo)")
    if mqtt:
        p.add_argument(
            "--mqtt-url",
            help="mqtt://[user:pass@]host:port or mqtts:// (OPSROOM_MQTT_URL; "
            "prefer OPSROOM_MQTT_PASSWORD for the password)",
        )
        p.add_argument(
            "--mqtt-protocol",
            choices=["auto", "5", "3.1.1"],
            help="MQTT protocol version (OPSROOM_MQTT_PROTOCOL; auto tries v5 first)",
        )
    if store:
        p.add_argument(
            "--store",
            help="sqlite:///PATH or influxdb (OPSROOM_STORE; default "
            "sqlite:///opsroom-data/opsroom.db); InfluxDB takes OPSROOM_INFLUXDB_URL, "
            "_TOKEN, _ORG, _BUCKET",
        )


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM: a service stops cleanly on either."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop
