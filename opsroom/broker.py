"""Start a local Mosquitto for tests, benchmarks and the demo (never bound beyond loopback)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

# The largest payload our brokers pass on (bytes): well above what ingest accepts
# (OPSROOM_MAX_PAYLOAD_BYTES, 16 KiB by default), so a payload a little too large still reaches
# ingest and is dead-lettered with its reason; far below what would strain a service.
MESSAGE_SIZE_LIMIT = 262_144


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until something accepts TCP connections on host:port, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listening on {host}:{port} after {timeout} s"
                ) from None
            time.sleep(0.05)


@dataclass
class Mosquitto:
    """A Mosquitto process on 127.0.0.1 with persistence in `data_dir`.

    Queues are raised far above Mosquitto's default of 1,000 messages per offline session,
    which would silently drop readings while a consumer restarts. Payloads are limited to
    `message_size_limit` bytes (Mosquitto's default has no limit): larger ones are dropped by
    the broker instead of reaching every subscriber. 0 means no limit.
    """

    data_dir: Path
    port: int = 0
    max_queued_messages: int = 1_000_000
    max_inflight_messages: int = 0
    message_size_limit: int = MESSAGE_SIZE_LIMIT
    extra_config: list[str] = field(default_factory=list)
    password_file: Path | None = None
    acl_file: Path | None = None
    # a process group of its own: a terminal's Ctrl-C then reaches only the parent, which
    # stops the broker last, after the clients that still need it (the demo)
    own_process_group: bool = False
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The broker's mqtt:// URL."""
        return f"mqtt://127.0.0.1:{self.port}"

    def config(self) -> str:
        """The mosquitto.conf this broker runs with."""
        lines = [
            f"listener {self.port} 127.0.0.1",
            f"allow_anonymous {'false' if self.password_file else 'true'}",
            *([f"password_file {self.password_file}"] if self.password_file else []),
            *([f"acl_file {self.acl_file}"] if self.acl_file else []),
            "persistence true",
            f"persistence_location {self.data_dir}/",
            f"max_queued_messages {self.max_queued_messages}",
            f"max_inflight_messages {self.max_inflight_messages}",
            "max_queued_bytes 0",
            f"message_size_limit {self.message_size_limit}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            f"log_dest file {self.data_dir}/mosquitto.log",
            "user root",
            *self.extra_config,
        ]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 10.0) -> Mosquitto:
        """Start (or restart) the broker on its port; its persisted sessions survive a restart."""
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        conf = self.data_dir / "mosquitto.conf"
        conf.write_text(self.config())
        self.proc = subprocess.Popen(
            [binary, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            process_group=0 if self.own_process_group else None,
        )
        try:
            wait_for_port("127.0.0.1", self.port, timeout)
        except TimeoutError:
            self.stop()
            log = self.data_dir / "mosquitto.log"
            raise RuntimeError(
                f"mosquitto did not start: {log.read_text() if log.exists() else ''}"
            ) from None
        return self

    def stop(self, kill: bool = False, timeout: float = 10.0) -> None:
        """Stop the broker: SIGTERM (it saves its persistence file) or SIGKILL."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
