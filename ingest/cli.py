"""The `opsroom ingest` sub-command: its flags and how it runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from opsroom.command import Command, add_common, stop_on_signals
from opsroom.settings import Settings
from opsroom.store import open_store


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of `opsroom ingest`."""
    add_common(p)
    p.add_argument(
        "--venue", type=Path, help="venue file: counts readings of unknown sensors (OPSROOM_VENUE)"
    )
    p.add_argument(
        "--client-id", help="MQTT client id (default opsroom-ingest-EVENT); one per process"
    )
    p.add_argument(
        "--share-group",
        help="MQTT v5 shared subscription group, to split the load "
        "between several ingest processes",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the ingest service until SIGINT/SIGTERM."""
    from ingest import IngestService
    from opsroom.venue import load_venue

    venue = load_venue(settings.venue) if settings.venue else None
    store = open_store(settings)
    stop = stop_on_signals()
    service = IngestService(
        settings, store, venue, client_id=args.client_id, share_group=args.share_group
    )
    try:
        service.run(stop)
    finally:
        store.close()
    if service.failed is not None:
        # non-zero, so that a supervisor (compose's `restart:`) starts ingest again
        print(f"opsroom: ingest failed: {service.failed}", file=sys.stderr)
        return 1
    return 0


COMMANDS = (
    Command(
        "ingest",
        "MQTT readings -> validation -> store (dead letters aside)",
        add_arguments,
        run,
    ),
)
