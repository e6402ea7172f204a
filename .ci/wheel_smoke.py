"""The installed wheel, used as a new user would, from an empty folder outside the checkout.

Run by .ci/run with the fresh virtual environment's Python (the wheel installed there, not
the source tree): `opsroom --version`, `opsroom init` into a temporary folder and
`check-config` on the result, then `opsroom demo` until it says it is up, and a clean stop
on SIGINT (exit 0). Prints what it did; exits 1 on the first thing that went wrong.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

UP_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


def fail(why: str) -> None:
    print(f"wheel smoke: FAILED: {why}", flush=True)
    sys.exit(1)


def run(opsroom: str, *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [opsroom, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    print(f"$ opsroom {' '.join(args)}  -> exit {done.returncode}", flush=True)
    if done.returncode != 0:
        fail(f"opsroom {' '.join(args)}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    opsroom = shutil.which("opsroom", path=str(Path(sys.executable).parent))
    if opsroom is None:
        fail(f"no opsroom command next to {sys.executable}")
    assert opsroom is not None
    expected = sys.argv[1] if len(sys.argv) > 1 else None
    with tempfile.TemporaryDirectory(prefix="opsroom-wheel-") as tmp:
        home = Path(tmp)
        version = run(opsroom, "--version", cwd=home).strip()
        if expected and version != f"opsroom {expected}":
            fail(f"--version printed {version!r}, expected 'opsroom {expected}'")
        run(opsroom, "init", "my-event", cwd=home)
        print(run(opsroom, "check-config", "my-event", cwd=home), end="", flush=True)
        # the module form works from the wheel too
        done = subprocess.run(
            [sys.executable, "-m", "opsroom", "--version"], cwd=home, capture_output=True,
            text=True, timeout=60, check=False,
        )  # fmt: skip
        if done.stdout.strip() != version:
            fail(f"python -m opsroom --version: {done.stdout!r} {done.stderr!r}")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPSROOM_")}
        demo = subprocess.Popen(
            [opsroom, "demo", "--port", str(port), "--data-dir", "demo-data"],
            cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        lines: list[str] = []
        up = threading.Event()

        def read() -> None:
            assert demo.stdout is not None
            for line in demo.stdout:
                lines.append(line)
                if "Opsroom demo is up" in line:
                    up.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        t0 = time.monotonic()
        while not up.wait(0.5):
            if demo.poll() is not None or time.monotonic() - t0 > UP_TIMEOUT_S:
                demo.kill()
                fail("opsroom demo did not come up:\n" + "".join(lines[-40:]))
        print(f"opsroom demo: up in {time.monotonic() - t0:.1f} s on port {port}", flush=True)
        demo.send_signal(signal.SIGINT)
        try:
            code = demo.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            demo.kill()
            fail("opsroom demo did not stop within 30 s of SIGINT")
        reader.join(5)
        if code != 0:
            fail(f"opsroom demo exited {code}:\n" + "".join(lines[-40:]))
        print("opsroom demo: stopped cleanly (exit 0)", flush=True)
    print("wheel smoke: OK", flush=True)


if __name__ == "__main__":
    main()
