"""Several screens at once: the data age that 10 real browser sessions see, and the server's CPU.

    python bench/sessions.py [--sessions 10] [--seconds 60] [--speed 300]

`--profile FILE` also records the server with py-spy (`pip install py-spy`) as collapsed stacks.

Starts `opsroom demo` (Mosquitto or the embedded broker, SQLite, ingest, rules, the drill
simulator and the dashboard) in a temporary folder, waits for the drill's first round (played
at `--speed`) to end so that the live round (1x) feeds the store, then logs in `--sessions`
real Chromium sessions (Playwright driving Debian's chromium, one browser context each: a
wall screen on the Overview and operators spread over the other pages).

For `--seconds` it reads every page about once a second: the freshness line each page shows
("Newest data 2 s ago (10:41:07)", the exact time in its <time datetime> element). The age a
viewer sees is the wall clock at the read minus the newest reading's time shown (`seen`); the
page's own text (`shown`) hides a server that falls behind, because it only changes when the
page is drawn again. `seen` also holds the devices' own pace (a fridge reports once a
minute); `out_of_date` is the dashboard's part alone: how long the page had been showing a
reading when the store already held a newer one for that page. Prints one JSON object:
p50/p95/max of each, the dashboard process's CPU (% of one core, from /proc) and RSS, and
the load average. Target: p95 <= 3 s, for `seen` on the wall screen's Overview (every family,
about two readings a second) and for `out_of_date` on every page.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from opsroom.broker import free_port  # noqa: E402
from opsroom.venue import load_venue  # noqa: E402

PASSWORD = "bench-sessions-password-0123"  # a throwaway demo password
PAGES = ["Overview", "Crowd", "Power", "Cold chain", "Shuttles"]
PAGE_KINDS = {
    "Overview": (),  # every family
    "Crowd": ("crowd",),
    "Power": ("power",),
    "Cold chain": ("coldchain",),
    "Shuttles": ("shuttle",),
}
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    # every session is a window on its own screen: none is throttled as a background tab
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
# "Newest data 2 s ago (10:41:07)" or "STALE: the newest data is 4 min old (at 10:37:02)"
FRESHNESS = r"(?:Newest data (.+?) ago \(|the newest data is (.+?) old \(at )(\d\d:\d\d:\d\d)\)"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# the freshness line's text and the exact newest time it carries (<time datetime>); the whole
# page's text when it has none (a STALE line): reading every node of a page every second would
# take the browsers' CPU from what is measured
READ = """() => {
  const t = document.querySelector('time[datetime]');
  const line = t?.closest('[data-testid="stCaption"], [data-testid="stCaptionContainer"]');
  return [(line ?? document.body).textContent, t?.getAttribute('datetime') ?? null];
}"""


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
            return bool(r.read() == b"ok")
    except OSError:
        return False


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _descendants(pid: int) -> list[int]:
    tree, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += tree.get(p, [])
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


class Arrivals:
    """Every reading the demo's store receives while the bench reads, as (kind, device time).

    A thread polls the store's `latest` table every 0.1 s (a device reports every 10 s or
    more, so no reading is missed). `first_after(x, kinds)` is the time of the first reading of
    the venue's sensors of `kinds` (none: all) stamped after `x`: from then on a page showing
    `x` as its newest is out of date."""

    def __init__(self, path: Path, sensors: set[tuple[str, str]]) -> None:
        self.path, self.sensors = path, sensors
        self.times: dict[str, set[float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Arrivals:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        try:
            while not self._stop.wait(0.1):
                for kind, sid, ts in db.execute("SELECT kind, sensor_id, ts FROM latest"):
                    if (kind, sid) in self.sensors:
                        self.times.setdefault(kind, set()).add(ts / 1e6)
        finally:
            db.close()

    def first_after(self, x: float, kinds: tuple[str, ...]) -> float | None:
        later = [
            t for k, ts in list(self.times.items()) if not kinds or k in kinds for t in ts if t > x
        ]
        return min(later) if later else None


def _newest(stamp: str | None, hms: str, now: float, tz: ZoneInfo) -> float:
    """The shown newest reading's time (epoch s): exact from the <time> element, else (a STALE
    line) the whole seconds of the text, on the most recent day that is not ahead of `now`."""
    if stamp:
        return datetime.fromisoformat(stamp).timestamp()
    h, mi, s = (int(x) for x in hms.split(":"))
    local = datetime.fromtimestamp(now, tz)
    at = local.replace(hour=h, minute=mi, second=s, microsecond=0).timestamp()
    return at - 86400 if at > now + 1 else at


def _group_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):  # gone since: its ticks are lost with it
            total += _cpu_ticks(pid)
    return total


def _groups(demo_pid: int, server: int) -> dict[str, list[int]]:
    """The processes by part: the dashboard server, the rest of the demo, the browsers."""
    demo = set(_descendants(demo_pid))
    browsers = [
        p for p in _descendants(os.getpid()) if p not in demo and "chrom" in _cmdline(p).lower()
    ]
    return {
        "dashboard": [server],
        "demo_other": sorted(demo - {server}),
        "chromium": browsers,
    }


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _seconds(text: str) -> float:
    number, unit = text.split()
    return float(number) * {"s": 1, "min": 60, "h": 3600, "d": 86400}[unit]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 2),
        "p95": round(_pct(values, 0.95), 2),
        "max": round(max(values), 2),
    }


def start_demo(folder: Path, port: int, speed: float) -> subprocess.Popen[str]:
    """`opsroom demo` in `folder`, its output in folder/demo.log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSROOM_")}
    env |= {"OPSROOM_DASHBOARD_PASSWORD": PASSWORD, "PYTHONUNBUFFERED": "1"}
    log = (folder / "demo.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "opsroom", "demo", "--data-dir", str(folder / "data"),
         "--port", str(port), "--speed", f"{speed:g}"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def wait_live(demo: subprocess.Popen[str], folder: Path, port: int, timeout: float) -> None:
    """Until the dashboard answers and the drill's first round is over (live data flows)."""
    deadline = time.monotonic() + timeout
    log = folder / "demo.log"
    while not (_healthy(port) and "drill round 2" in log.read_text()):
        if demo.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the demo did not reach its live round:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def streamlit_pid(demo_pid: int) -> int:
    """The `streamlit run` process under the demo's dashboard part."""
    for pid in _descendants(demo_pid):
        if "streamlit run" in _cmdline(pid):
            return pid
    raise SystemExit("no streamlit process under the demo")


def main() -> None:
    """Run the bench and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to read the pages")
    parser.add_argument("--speed", type=float, default=300.0, help="first round's drill speed")
    parser.add_argument(
        "--profile",
        type=Path,
        help="record the dashboard server with py-spy while reading (collapsed stacks here)",
    )
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    venue = load_venue(ROOT / "examples" / "venue.yaml")
    tz = ZoneInfo(venue.event.timezone)
    sensors = set(venue.sensors())
    pattern = re.compile(FRESHNESS)
    with tempfile.TemporaryDirectory(prefix="opsroom-sessions-") as tmp:
        folder = Path(tmp)
        port = free_port()
        demo = start_demo(folder, port, args.speed)
        try:
            wait_live(demo, folder, port, timeout=180)
            server = streamlit_pid(demo.pid)
            url = f"http://127.0.0.1:{port}"
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
                pages = []
                t_open = time.monotonic()
                for n in range(args.sessions):
                    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                    page.set_default_timeout(60_000)
                    page.goto(url)
                    page.get_by_label("User", exact=True).fill("admin")
                    page.get_by_label("Password", exact=True).fill(PASSWORD)
                    page.get_by_role("button", name="Log in").click()
                    page.get_by_text("Newest data").first.wait_for()
                    title = "Overview" if n == 0 else PAGES[n % len(PAGES)]
                    if title != "Overview":
                        page.get_by_role("link", name=title).click()
                        page.get_by_role("heading", name=title).wait_for()
                        page.get_by_text("Newest data").first.wait_for()
                    pages.append((title, page))
                opened_s = time.monotonic() - t_open
                seen: list[float] = []
                shown: list[float] = []
                by_page: dict[str, list[float]] = {}
                seen_by_page: dict[str, list[float]] = {}
                behind: list[float] = []
                behind_by_page: dict[str, list[float]] = {}
                arrivals = Arrivals(folder / "data" / "opsroom.db", sensors)
                misses = 0
                load_before = os.getloadavg()
                groups = _groups(demo.pid, server)
                ticks0 = {name: _group_ticks(pids) for name, pids in groups.items()}
                cpu0, t0 = _cpu_ticks(server), time.monotonic()
                spy = None
                if args.profile:
                    spy = subprocess.Popen(
                        ["py-spy", "record", "--pid", str(server), "--duration",
                         str(int(args.seconds)), "--format", "raw", "--rate", "50",
                         "--output", str(args.profile), "--nonblocking"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    )  # fmt: skip
                with arrivals:
                    while time.monotonic() - t0 < args.seconds:
                        tick = time.monotonic()
                        for _title, page in pages:
                            text, stamp = page.evaluate(READ)
                            now = time.time()
                            m = pattern.search(text)
                            if m is None:
                                misses += 1
                                continue
                            shown.append(_seconds(m.group(1) or m.group(2)))
                            newest = _newest(stamp, m.group(3), now, tz)
                            seen.append(max(0.0, now - newest))
                            by_page.setdefault(_title, []).append(shown[-1])
                            seen_by_page.setdefault(_title, []).append(seen[-1])
                            # out of date: since the store got a reading newer than the one shown
                            first = arrivals.first_after(newest, PAGE_KINDS[_title])
                            lag = 0.0 if first is None else max(0.0, now - first)
                            behind.append(lag)
                            behind_by_page.setdefault(_title, []).append(lag)
                        # about once a second, at a random phase: a fixed 1 s beat would lock
                        # onto the pages' 1 s refresh and always read at the same point of it
                        pause = random.uniform(0.5, 1.5)
                        time.sleep(max(0.0, pause - (time.monotonic() - tick)))
                wall = time.monotonic() - t0
                if spy is not None:
                    spy.wait(60)
                cpu = (_cpu_ticks(server) - cpu0) / CLK_TCK / wall * 100
                spent = {
                    name: round((_group_ticks(pids) - ticks0[name]) / CLK_TCK / wall * 100, 1)
                    for name, pids in groups.items()
                }
                rss = _rss_mb(server)
                browser.close()
        finally:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(60)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait()
    print(
        json.dumps(
            {
                "sessions": args.sessions,
                "pages": [t for t, _ in pages],
                "seconds": round(wall, 1),
                "open_and_login_s": round(opened_s, 1),
                "data_age_seen_s": _summary(seen),
                "data_age_shown_s": _summary(shown),
                # the shown age per page: how old the newest reading of its family was when
                # the page was drawn (devices report every 10 s to 60 s: a floor, not lag)
                "data_age_shown_p95_by_page_s": {
                    t: _summary(v)["p95"] for t, v in sorted(by_page.items())
                },
                # the dashboard's own part: how long the page had been showing a reading that
                # the store already had a newer one for (refresh, cache, drawing, ingest)
                "out_of_date_s": _summary(behind),
                "out_of_date_p95_by_page_s": {
                    t: _summary(v)["p95"] for t, v in sorted(behind_by_page.items())
                },
                "data_age_seen_p95_by_page_s": {
                    t: _summary(v)["p95"] for t, v in sorted(seen_by_page.items())
                },
                "reads_without_freshness_line": misses,
                "dashboard_cpu_pct_of_one_core": round(cpu, 1),
                "dashboard_rss_mb": round(rss, 1),
                # where the machine's CPU went (% of one core): the browsers share it here, on a
                # real wall each screen has its own machine
                "cpu_pct_of_one_core_by_part": spent,
                "loadavg_before": [round(x, 2) for x in load_before],
                "loadavg_after": [round(x, 2) for x in os.getloadavg()],
                "cores": os.cpu_count(),
                "target_seen_p95_s": 3,
            }
        )
    )


if __name__ == "__main__":
    main()
