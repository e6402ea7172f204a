"""The `opsroom dashboard` sub-command: its flags and how it runs (a `streamlit run` child)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from opsroom.command import Command, add_common, stop_on_signals
from opsroom.settings import Settings

APP = Path(__file__).resolve().parent / "app.py"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of `opsroom dashboard`."""
    add_common(p)
    p.add_argument("--venue", type=Path, help="venue file (OPSROOM_VENUE)")
    p.add_argument(
        "--rules",
        type=Path,
        help="rules file whose levels colour tiles and bands (OPSROOM_RULES; without one, "
        "the design defaults)",
    )
    p.add_argument("--plans", type=Path, help="contingency plans file (OPSROOM_PLANS)")
    p.add_argument("--roster", type=Path, help="roster: who holds each role (OPSROOM_ROSTER)")
    p.add_argument("--port", type=int, default=8501, help="HTTP port (default 8501)")
    p.add_argument(
        "--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the Streamlit dashboard (a `streamlit run` subprocess) until SIGINT/SIGTERM."""
    accounts = settings.users_file is not None or settings.dashboard_password is not None
    if settings.dashboard_auth == "password" and not accounts and not settings.dashboard_no_auth:
        print(
            "opsroom: refusing to start the dashboard without accounts: set "
            "OPSROOM_USERS_FILE (see `opsroom users add`) or OPSROOM_DASHBOARD_PASSWORD, or "
            "OPSROOM_DASHBOARD_NO_AUTH=1 to run it open on purpose (trusted network only)",
            file=sys.stderr,
        )
        return 2
    # a bad users file (unknown role, malformed YAML) or OIDC secrets stop start-up here,
    # naming the file, the line and the field (ConfigError, printed by the entry layer)
    if settings.dashboard_auth == "oidc":
        from dashboard.oidc import load_secrets

        load_secrets()
    elif settings.users_file is not None:
        from opsroom.users import directory

        directory(settings.users_file, None)
    if settings.venue is None:
        print(
            "opsroom: the dashboard needs a venue file: --venue or OPSROOM_VENUE", file=sys.stderr
        )
        return 2
    env = dict(os.environ)
    given = {
        "event": args.event,
        "mqtt_url": args.mqtt_url,
        "mqtt_protocol": args.mqtt_protocol,
        "store": args.store,
        "venue": str(Path(args.venue).resolve()) if args.venue else None,
        "rules": str(Path(args.rules).resolve()) if args.rules else None,
        "plans": str(Path(args.plans).resolve()) if args.plans else None,
        "roster": str(Path(args.roster).resolve()) if args.roster else None,
    }
    env.update({f"OPSROOM_{k.upper()}": str(v) for k, v in given.items() if v is not None})
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless", "true",
        "--server.address", args.address,
        "--server.port", str(args.port),
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
        # Streamlit runs a full gc.collect(2) after every run, fragment runs included: with
        # ten screens refreshing every 2 s that was 54 % of the server's CPU (py-spy, bench/
        # sessions.py --profile). Python's own collector still runs on its thresholds.
        "--runner.postScriptGC", "false",
    ]  # fmt: skip
    stop = stop_on_signals()
    proc = subprocess.Popen(command, env=env)
    print(f"opsroom: dashboard on http://{args.address}:{args.port}", file=sys.stderr)
    while proc.poll() is None and not stop.wait(0.5):
        pass
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0 if stop.is_set() else proc.wait()


COMMANDS = (Command("dashboard", "the wall-screen dashboard (Streamlit)", add_arguments, run),)
