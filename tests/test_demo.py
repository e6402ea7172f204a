"""`opsroom demo`: it starts, the dashboard answers, alerts arrive, and it stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from opsroom.app.demo import generated_password, prepare_data_dir
from opsroom.app.parts import mosquitto_binary
from opsroom.broker import free_port
from opsroom.configfile import ConfigError
from opsroom.settings import Settings
from opsroom.shipped import examples_dir
from opsroom.store.sqlite import SqliteStore
from tests.conftest import wait_until

UP_TIMEOUT_S = 90.0
ALERT_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 60.0


def _ppids() -> dict[int, int]:
    """pid -> parent pid of every process, from /proc."""
    out: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields follow the last ')'
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(entry)] = int(fields[1])
    return out


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (children, grandchildren, ...)."""
    parents = _ppids()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def cmdline(pid: int) -> str:
    """The process's command line, spaces between the arguments."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass
class RunningDemo:
    """An `opsroom demo` subprocess whose stdout is collected line by line."""

    proc: subprocess.Popen[str]
    data_dir: Path
    port: int
    started: float
    lines: list[str] = field(default_factory=list)

    def read(self) -> None:
        """Collect stdout until it closes (runs in a thread)."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        """Everything printed so far."""
        return "".join(self.lines)

    def wait_up(self) -> float:
        """Seconds from start until the demo says it is up."""
        up = wait_until(
            lambda: "Dashboard:" in self.output or self.proc.poll() is not None,
            timeout=UP_TIMEOUT_S,
        )
        if self.proc.poll() is not None:
            pytest.fail(f"demo exited with {self.proc.returncode}:\n{self.stderr()}")
        if not up:
            pytest.fail(f"demo not up within {UP_TIMEOUT_S:.0f} s:\n{self.stderr()}")
        return time.monotonic() - self.started

    def stderr(self) -> str:
        """What the demo wrote to stderr."""
        path = self.data_dir.parent / "demo.stderr"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


StartDemo = Callable[..., RunningDemo]


@pytest.fixture
def start_demo(tmp_path: Path) -> Iterator[StartDemo]:
    """Start `opsroom demo` with a tmp data dir and a free port; kill what is left after."""
    running: list[RunningDemo] = []

    def start(*extra: str, password: str | None = None) -> RunningDemo:
        data_dir = tmp_path / "data"
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPSROOM_")}
        if password is not None:
            env["OPSROOM_DASHBOARD_PASSWORD"] = password
        command = [sys.executable, "-m", "opsroom", "demo", "--data-dir", str(data_dir)]
        command += ["--port", str(port), *extra]
        with (tmp_path / "demo.stderr").open("wb") as err:
            proc = subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                cwd=tmp_path,
                start_new_session=True,  # its own group, like a command in a terminal
            )
        demo = RunningDemo(proc, data_dir, port, time.monotonic())
        threading.Thread(target=demo.read, daemon=True).start()
        running.append(demo)
        return demo

    yield start
    for demo in running:
        below = descendants(demo.proc.pid)
        if demo.proc.poll() is None:
            demo.proc.kill()
            demo.proc.wait()
        for pid in below:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def health(port: int) -> str:
    """The dashboard's /_stcore/health answer."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as r:
        return str(r.read().decode().strip())


def wait_for_alert(db: Path) -> float:
    """Seconds until the store holds a firing alert."""
    t0 = time.monotonic()

    def firing() -> bool:
        if not db.exists():
            return False
        store = SqliteStore(db)
        try:
            return any(e.state == "firing" and e.drill for e in store.alert_events())
        finally:
            store.close()

    if not wait_until(firing, ALERT_TIMEOUT_S, step=0.5):
        pytest.fail(f"no firing alert in {db} within {ALERT_TIMEOUT_S:.0f} s")
    return time.monotonic() - t0


def survivors(pids: set[int], timeout: float = 5.0) -> dict[int, str]:
    """The processes of `pids` still alive once they all exited or `timeout` passed."""
    wait_until(lambda: not any(alive(pid) for pid in pids), timeout, step=0.05)
    return {pid: cmdline(pid) for pid in pids if alive(pid)}


def stop_and_check(demo: RunningDemo, how: str) -> None:
    """Ctrl-C (SIGINT to the whole process group) or SIGTERM: exit 0, nothing left running."""
    below = descendants(demo.proc.pid)
    assert below, "the demo started no subprocesses"
    if how == "ctrl-c":
        os.killpg(demo.proc.pid, signal.SIGINT)
    else:
        demo.proc.send_signal(signal.SIGTERM)
    assert demo.proc.wait(STOP_TIMEOUT_S) == 0, demo.stderr()
    left = survivors(below)
    assert not left, f"left running: {left}"


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize(("broker", "how"), [("auto", "ctrl-c"), ("embedded", "sigterm")])
def test_demo_starts_serves_alerts_and_stops_cleanly(
    start_demo: StartDemo, broker: str, how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if broker == "auto" and mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed")
    demo = start_demo("--broker", broker)
    up = demo.wait_up()
    assert health(demo.port) == "ok"
    assert f"http://127.0.0.1:{demo.port}" in demo.output
    assert "generated for this run" in demo.output  # no password in the environment
    assert "User:       admin" in demo.output  # the one account of the dashboard password
    assert ("Mosquitto" if broker == "auto" else "amqtt") in demo.output
    first_alert = up + wait_for_alert(demo.data_dir / "opsroom.db")
    with capsys.disabled():
        print(f"\n[demo {broker}] up after {up:.1f} s, first alert after {first_alert:.1f} s")
    stop_and_check(demo, how)
    assert (demo.data_dir / "drills" / "round-1.jsonl").exists()
    if broker == "embedded":  # amqtt refuses MQTT v5: the services fell back to 3.1.1
        for name in ("ingest", "rules", "simulator"):
            assert "using 3.1.1" in (demo.data_dir / "logs" / f"{name}.log").read_text()


@pytest.mark.integration
@pytest.mark.slow
def test_demo_stops_everything_with_exit_1_when_a_part_dies(start_demo: StartDemo) -> None:
    demo = start_demo("--broker", "embedded", password="s3cret-long-enough")
    demo.wait_up()
    assert "OPSROOM_DASHBOARD_PASSWORD" in demo.output and "s3cret-long-enough" not in demo.output
    below = descendants(demo.proc.pid)
    ingest = [pid for pid in below if " ingest " in cmdline(pid) + " "]
    assert len(ingest) == 1, {pid: cmdline(pid) for pid in below}
    os.kill(ingest[0], signal.SIGKILL)
    assert demo.proc.wait(STOP_TIMEOUT_S) == 1
    assert "ingest stopped unexpectedly" in demo.stderr()
    left = survivors(below)
    assert not left, f"left running: {left}"


def test_examples_are_found_next_to_the_package() -> None:
    for name in ("venue.yaml", "rules.yaml", "drills/opening-rush.yaml"):
        assert (examples_dir() / name).is_file()


def test_data_dir_of_someone_else_is_refused(tmp_path: Path) -> None:
    (tmp_path / "precious.db").write_text("x")
    with pytest.raises(ConfigError, match="did not make"):
        prepare_data_dir(tmp_path)
    assert (tmp_path / "precious.db").exists()


def test_own_data_dir_is_emptied_on_start_unless_a_demo_holds_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    prepare_data_dir(data).close()
    (data / "opsroom.db").write_text("old run")
    (data / "logs").mkdir()
    with prepare_data_dir(data):
        assert sorted(p.name for p in data.iterdir()) == [".opsroom-demo"]
        (data / "opsroom.db").write_text("this run")
        with pytest.raises(ConfigError, match="another `opsroom demo` is running"):
            prepare_data_dir(data)
        assert (data / "opsroom.db").read_text() == "this run"


def test_a_short_dashboard_password_stops_the_demo_before_it_starts(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSROOM_")}
    env["OPSROOM_DASHBOARD_PASSWORD"] = "short-pw"
    command = [sys.executable, "-m", "opsroom", "demo", "--data-dir", str(tmp_path / "d")]
    done = subprocess.run(
        [*command, "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "at least 12 characters" in done.stderr and "short-pw" not in done.stderr
    assert not (tmp_path / "d").exists()  # nothing was started or prepared


def test_the_generated_demo_password_passes_the_length_check() -> None:
    password = generated_password()
    assert len(password) >= 12 and password != generated_password()
    Settings.load(env={"OPSROOM_DASHBOARD_PASSWORD": password})  # accepted
