"""The demo's moving parts: the broker and the `opsroom` subprocesses, supervised.

The broker is Mosquitto when it is installed (a subprocess on a free port) or else amqtt in
this process (`EmbeddedBroker`: a thread with its own event loop). Each service is a `Part`:
an `opsroom` subprocess in its own process group, logging to its own file, stopped with
SIGTERM (then SIGKILL to its whole group). The demo's set-up is in opsroom.app.demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsroom.broker import free_port

log = logging.getLogger("opsroom.demo")
STOP_TIMEOUT_S = 15.0


def mosquitto_binary() -> str | None:
    """The mosquitto executable on this machine, if any."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


class EmbeddedBroker:
    """amqtt's broker on 127.0.0.1:port in a thread with its own asyncio loop."""

    def __init__(self, port: int = 0) -> None:
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="amqtt-broker", daemon=True)
        self._ready = threading.Event()
        self._broker: Any = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """The broker's mqtt:// URL."""
        return f"mqtt://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        from amqtt.broker import Broker  # type: ignore[import-untyped]

        # its warnings are the services' MQTT v5 probes being refused, by design
        logging.getLogger("amqtt").setLevel(logging.ERROR)
        logging.getLogger("transitions").setLevel(logging.WARNING)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._broker = Broker(config)
        await self._broker.start()

    def start(self, timeout: float = 10.0) -> EmbeddedBroker:
        """Start serving; raise RuntimeError if it cannot."""
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError(f"the embedded MQTT broker did not start: {self._error}")
        return self  # Broker.start() returns once its listener accepts connections

    def alive(self) -> bool:
        """True while the broker's thread runs."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the broker down and end its thread."""
        if not self._thread.is_alive():
            return
        if self._broker is not None:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                future.result(timeout)
            except Exception as exc:  # stopping anyway
                log.warning("embedded broker shutdown: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()


@dataclass
class Part:
    """One `opsroom` subprocess of the demo, logging to its own file."""

    name: str
    argv: list[str]
    log_file: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str]) -> Part:
        """Start it in its own process group, output to its log file."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "opsroom", *self.argv],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        return self

    def exit_code(self) -> int | None:
        """None while it runs, else its exit code."""
        return None if self.proc is None else self.proc.poll()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM, then SIGKILL to its whole group if it does not end within `timeout`."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0f s: killing it", self.name, timeout)
        # anything left in its group (a child it started) goes too
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def tail(self, lines: int = 15) -> str:
        """The end of its log, to show why it stopped."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def log_says(part: Part, text: str) -> bool:
    """True once the part's log holds `text`."""
    try:
        return text in part.log_file.read_text(errors="replace")
    except OSError:
        return False


def connected(part: Part) -> Callable[[], bool]:
    """A check that is true once the part has logged its connection to the broker."""
    return lambda: log_says(part, "connected to")


class PartDied(RuntimeError):
    """A part of the demo stopped on its own."""
