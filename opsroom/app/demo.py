"""`opsroom demo`: broker, SQLite store, ingest, rules, a looping drill and the dashboard.

Everything runs on 127.0.0.1 from one data folder. The broker is Mosquitto when it is
installed (a subprocess on a free port) or else amqtt in this process (a thread with its own
event loop; MQTT 3.1.1 only, which the services' `auto` protocol negotiation falls back to).
Ingest, rules, the drill and the dashboard are `opsroom` subprocesses, each in its own process
group: a crash of one is seen (its exit), it is stopped with SIGTERM like in production, a
terminal's Ctrl-C reaches only the demo (which then stops the parts in reverse order), and
whatever a part started (Streamlit under `opsroom dashboard`) goes with its group
(opsroom.app.parts supervises them; this module sets the demo up).

The drill's first round plays at `--speed` with its clock running from the past up to now
(see simulators.runner), so alerts fire within the first minute. Rules judge time on the
readings' own timestamps and ignore a reading older than its subject's newest, so a second
round replayed from the past would be ignored; the following rounds therefore play live (1x),
continuing the event's clock from where the first round left it, and the drill's world too
(`simulate --round N`: the crowd and the loads carry on, only the incidents repeat), so a
round's start is no sudden drop of every load.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import secrets
import shutil
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from opsroom.app.parts import EmbeddedBroker, Part, PartDied, connected, mosquitto_binary
from opsroom.broker import Mosquitto
from opsroom.configfile import ConfigError
from opsroom.settings import MIN_PASSWORD_LENGTH
from opsroom.shipped import example

log = logging.getLogger("opsroom.demo")


def generated_password() -> str:
    """A dashboard password for one demo run: 24 random URL-safe characters."""
    return secrets.token_urlsafe(18)


BrokerChoice = Literal["auto", "mosquitto", "embedded"]
MARKER = ".opsroom-demo"
READY_TIMEOUT_S = 60.0
Print = Callable[[str], None]


def _example(given: Path | None, name: str, flag: str) -> Path:
    if given is not None:
        if not given.is_file():
            raise ConfigError(str(given), [f"{flag}: no such file"])
        return given.resolve()
    return example(name)


def _need_module(name: str, what: str) -> None:
    if importlib.util.find_spec(name) is None:
        raise ConfigError(
            "demo", [f"{what} needs the Python package {name}: pip install -e '.[demo]'"]
        )


@dataclass
class DemoOptions:
    """What `opsroom demo` runs with."""

    data_dir: Path = Path("opsroom-data")
    port: int = 8501
    speed: float = 60.0
    drill: Path | None = None
    venue: Path | None = None
    rules: Path | None = None
    broker: BrokerChoice = "auto"
    seed: int | None = None
    loop: bool = True


def prepare_data_dir(data_dir: Path) -> IO[str]:
    """Make `data_dir` the demo's own, emptied of a previous run's data; return its lock.

    A run replays the drill's hour up to now, so an earlier run's readings and rules state
    would overlap it in event time. A folder the demo did not make is never touched, nor one
    that a running demo holds (the returned open file keeps the lock until it is closed).
    """
    marker = data_dir / MARKER
    if data_dir.exists() and any(data_dir.iterdir()) and not marker.exists():
        raise ConfigError(
            str(data_dir),
            [
                "--data-dir: this folder holds files the demo did not make; the demo resets its "
                "data folder on each start, so give it an empty or new one"
            ],
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = marker.open("a", encoding="utf-8")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise ConfigError(
            str(data_dir), ["--data-dir: another `opsroom demo` is running with this folder"]
        ) from None
    for child in data_dir.iterdir():
        if child.name == MARKER:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    lock.truncate(0)
    lock.write("made by `opsroom demo`: emptied on each start\n")
    lock.flush()
    return lock


def _check_port_free(port: int) -> None:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            raise ConfigError(
                "demo", [f"--port: 127.0.0.1:{port} is not free ({exc.strerror}); pick another"]
            ) from None


def dashboard_healthy(port: int) -> bool:
    """True if Streamlit on 127.0.0.1:port answers /_stcore/health with ok."""
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/_stcore/health", timeout=2
        ) as response:
            return bool(response.status == 200 and response.read().strip() == b"ok")
    except (OSError, urllib.error.URLError):
        return False


@dataclass
class Demo:
    """The running demo: start everything, watch it, stop it in reverse order."""

    options: DemoOptions
    out: Print = field(default=print)
    broker: Mosquitto | EmbeddedBroker | None = None
    parts: dict[str, Part] = field(default_factory=dict)
    rounds: int = 0
    password: str = ""

    def _files(self) -> tuple[Path, Path, Path]:
        from opsroom.rulesfile.model import load_rules
        from opsroom.venue import load_venue
        from simulators.cli import load_drill_and_venue

        o = self.options
        drill = _example(o.drill, "drills/opening-rush.yaml", "--drill")
        venue = _example(o.venue, "venue.yaml", "--venue")
        rules = _example(o.rules, "rules.yaml", "--rules")
        load_drill_and_venue(drill, venue)  # errors name the file and line, before any start
        load_rules(rules, load_venue(venue))
        _need_module("streamlit", "the dashboard")
        return drill, venue, rules

    def _start_broker(self) -> str:
        data = self.options.data_dir.resolve()
        choice = self.options.broker
        binary = mosquitto_binary()
        if choice == "mosquitto" and binary is None:
            raise ConfigError("demo", ["--broker mosquitto: mosquitto is not installed"])
        if choice != "embedded" and binary is not None:
            self.broker = Mosquitto(data / "mosquitto", own_process_group=True).start()
            return f"Mosquitto on {self.broker.url}"
        _need_module("amqtt", "the embedded MQTT broker (or install mosquitto)")
        self.broker = EmbeddedBroker().start()
        return f"embedded broker (amqtt, MQTT 3.1.1) on {self.broker.url}"

    def _env(self, venue: Path, rules: Path) -> dict[str, str]:
        assert self.broker is not None
        data = self.options.data_dir.resolve()
        # the demo's broker is local and anonymous; drill alerts go to no real notifier
        own = ("OPSROOM_MQTT_USERNAME", "OPSROOM_MQTT_PASSWORD", "OPSROOM_MQTT_CA_FILE")
        env = {k: v for k, v in os.environ.items() if k not in (*own, "OPSROOM_NOTIFIERS")}
        env.update(
            {
                "OPSROOM_MQTT_URL": self.broker.url,
                "OPSROOM_MQTT_PROTOCOL": "auto",
                "OPSROOM_STORE": f"sqlite:///{data / 'opsroom.db'}",
                "OPSROOM_DATA_DIR": str(data),
                "OPSROOM_SPOOL_DIR": str(data / "spool"),
                "OPSROOM_VENUE": str(venue),
                "OPSROOM_RULES": str(rules),
                "OPSROOM_DASHBOARD_PASSWORD": self.password,
                "PYTHONUNBUFFERED": "1",
            }
        )
        # owners are picked from the example roster unless one is set
        env.setdefault("OPSROOM_ROSTER", str(example("roster.yaml")))
        if self.options.venue is None and self.options.rules is None:
            # the shipped venue and rules: their plans activate
            env.setdefault("OPSROOM_PLANS", str(example("plans.yaml")))
        # the demo's one account is "admin" with the password above, whatever else is set
        for name in ("OPSROOM_DASHBOARD_NO_AUTH", "OPSROOM_USERS_FILE", "OPSROOM_DASHBOARD_AUTH"):
            env.pop(name, None)
        return env

    def _part(self, name: str, argv: list[str]) -> Part:
        logs = self.options.data_dir.resolve() / "logs"
        part = Part(name, argv, logs / f"{name}.log")
        self.parts[name] = part
        return part

    def _start_round(self, env: dict[str, str], drill: Path, venue: Path, rules: Path) -> None:
        self.rounds += 1
        speed = self.options.speed if self.rounds == 1 else 1.0
        drills = self.options.data_dir.resolve() / "drills"
        argv = [
            "simulate", str(drill), "--venue", str(venue), "--rules", str(rules),
            "--speed", f"{speed:g}", "--log", str(drills / f"round-{self.rounds}.jsonl"),
            "--progress-every", "30", "--round", str(self.rounds),
        ]  # fmt: skip
        if self.options.seed is not None:  # one seed: each round continues the one before
            argv += ["--seed", str(self.options.seed)]
        self._part("simulator", argv).start(env)
        if self.rounds > 1:
            self.out(f"opsroom demo: drill round {self.rounds} (live, 1x)")

    def _check(self) -> None:
        for name, part in self.parts.items():
            code = part.exit_code()
            if code is not None and not (name == "simulator" and code == 0):
                raise PartDied(f"{name} stopped unexpectedly (exit {code}):\n{part.tail()}")
        if isinstance(self.broker, EmbeddedBroker) and not self.broker.alive():
            raise PartDied("the embedded MQTT broker stopped unexpectedly")
        if isinstance(self.broker, Mosquitto) and (
            self.broker.proc is None or self.broker.proc.poll() is not None
        ):
            raise PartDied("mosquitto stopped unexpectedly")

    def _wait(self, what: str, ready: Callable[[], bool], stop: threading.Event) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not ready():
            self._check()
            if time.monotonic() > deadline:
                raise PartDied(f"{what} was not ready within {READY_TIMEOUT_S:.0f} s")
            if stop.wait(0.2):
                return False
        return True

    def run(self, stop: threading.Event) -> int:
        """Run until `stop` is set (exit 0) or a part dies (exit 1); always stop everything."""
        o = self.options
        t0 = time.monotonic()
        given = os.environ.get("OPSROOM_DASHBOARD_PASSWORD", "")
        if given and len(given) < MIN_PASSWORD_LENGTH:
            print(
                f"opsroom demo: OPSROOM_DASHBOARD_PASSWORD must be at least "
                f"{MIN_PASSWORD_LENGTH} characters long (it has {len(given)}); unset it to "
                "have one generated",
                file=sys.stderr,
            )
            return 2
        drill, venue, rules = self._files()
        _check_port_free(o.port)
        lock = prepare_data_dir(o.data_dir)
        self.password = given or generated_password()
        generated = not given
        try:
            broker = self._start_broker()
            env = self._env(venue, rules)
            ingest = self._part("ingest", ["ingest", "--venue", str(venue)]).start(env)
            rules_part = self._part(
                "rules",
                ["rules", "--rules", str(rules), "--venue", str(venue)],
            ).start(env)
            self._part(
                "dashboard",
                ["dashboard", "--venue", str(venue), "--port", str(o.port),
                 "--address", "127.0.0.1"],
            ).start(env)  # fmt: skip
            for part in (ingest, rules_part):
                if not self._wait(part.name, connected(part), stop):
                    return 0
            time.sleep(0.5)  # the subscriptions are sent right after the connection
            self._start_round(env, drill, venue, rules)
            if not self._wait("the dashboard", lambda: dashboard_healthy(o.port), stop):
                return 0
            self._banner(broker, generated, time.monotonic() - t0, drill)
            while not stop.wait(0.5):
                sim = self.parts.get("simulator")
                if sim is not None and sim.exit_code() == 0:
                    sim.stop()
                    if o.loop:
                        self._start_round(env, drill, venue, rules)
                    else:
                        del self.parts["simulator"]
                        self.out("opsroom demo: the drill is over; Ctrl-C stops the demo")
                self._check()
            self.out("opsroom demo: stopping")
            return 0
        except (RuntimeError, OSError) as exc:  # PartDied, or a broker that cannot start
            print(f"opsroom demo: {exc}", file=sys.stderr)
            print("opsroom demo: stopping everything", file=sys.stderr)
            return 1
        finally:
            self.shutdown()
            lock.close()

    def _banner(self, broker: str, generated: bool, took: float, drill: Path) -> None:
        o = self.options
        data = o.data_dir.resolve()
        pw = (
            f"{self.password}   (generated for this run; set OPSROOM_DASHBOARD_PASSWORD "
            "to choose one)"
            if generated
            else "the one in OPSROOM_DASHBOARD_PASSWORD"
        )
        speed = f"{o.speed:g}x" if o.speed > 0 else "full speed"
        then = ", then again and again, live (1x)" if o.loop else ", once"
        lines = [
            "",
            "=" * 72,
            f"  Opsroom demo is up ({took:.1f} s)",
            "",
            f"  Dashboard:  http://127.0.0.1:{o.port}   (open it in a browser)",
            "  User:       admin",
            f"  Password:   {pw}",
            "",
            f"  Broker:     {broker}",
            f"  Store:      sqlite:///{data / 'opsroom.db'}",
            f"  Drill:      {drill.name} at {speed}{then}; alerts within about a minute",
            f"  Logs:       {data / 'logs'}",
            f"  Query:      OPSROOM_STORE=sqlite:///{data / 'opsroom.db'} "
            "opsroom query alerts --active",
            "",
            "  Ctrl-C stops everything.",
            "=" * 72,
            "",
        ]
        self.out("\n".join(lines))

    def shutdown(self) -> None:
        """Stop the parts in reverse order of need: simulator, dashboard, rules, ingest, broker."""
        for name in ("simulator", "dashboard", "rules", "ingest"):
            part = self.parts.get(name)
            if part is not None:
                part.stop()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None


def run_demo(options: DemoOptions, stop: threading.Event, out: Print = print) -> int:
    """Run the demo until `stop` is set; 0 on a clean stop, 1 if a part died."""

    def say(text: str) -> None:
        out(text)
        sys.stdout.flush()

    return Demo(options, out=say).run(stop)
