"""`opsroom log ...` on a real SQLite file, as a duty officer types it (in-process `main`)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from opsroom.app.cli import main
from opsroom.broker import free_port
from opsroom.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> object:
    """run(*args) -> (exit code, stdout, stderr) against one SQLite file; no broker listens."""
    for name in ("OPSROOM_EVENT", "OPSROOM_VENUE", "OPSROOM_MQTT_URL", "OPSROOM_AUTHOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPSROOM_STORE", f"sqlite:///{tmp_path / 'log.db'}")
    monkeypatch.setenv("OPSROOM_MQTT_URL", f"mqtt://127.0.0.1:{free_port()}")

    def call(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def test_an_incident_from_open_to_close(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run("log", "open", "--category", "lost_person", "--priority", "urgent",
                         "--text", "Lost child, red coat", "--author", "Ann",
                         "--location", "51.5,-0.12")  # fmt: skip
    assert code == 0, err
    assert "recorded, but not published live" in err  # stored although no broker listens
    incident = out.split()[1]
    prefix = incident[:8]
    for args in (
        ("add", "--incident", prefix, "--text", "Searching zone 3", "--author", "Bo"),
        ("assign", "--incident", prefix, "--owner", "Team Blue", "--author", "Ann"),
        (
            "decide",
            "--incident",
            prefix,
            "--decision",
            "Hold gate B",
            "--rationale",
            "the child may be near the exit",
            "--author",
            "Silver",
        ),
        ("close", "--incident", prefix, "--text", "Reunited at gate B", "--author", "Bo"),
        ("add", "--category", "power", "--text", "Generator 2 refuelled", "--author", "Cy"),
    ):
        code, _, err = run("log", *args)
        assert code == 0, err
    code, out, _ = run("log", "list", "--since", "-2h", "--incident", prefix)
    lines = out.splitlines()
    assert [line.split()[1] for line in lines] == [
        "incident_open", "update", "assigned", "decision", "incident_close",
    ]  # fmt: skip
    assert "DECISION: Hold gate B (rationale: the child may be near the exit; by Silver)" in out
    code, out, _ = run("log", "list", "--incidents", "--json")
    [summary] = json.loads(out)
    assert (summary["incident_id"], summary["owner"], summary["entries"]) == (
        incident,
        "Team Blue",
        5,
    )
    assert summary["time_to_close_s"] >= 0
    code, out, _ = run("log", "list", "--category", "power")
    assert "Generator 2 refuelled" in out and "Lost child" not in out
    code, out, _ = run("log", "list", "--search", "GATE B")
    assert len(out.splitlines()) == 2  # the decision and the close


def test_exports(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("log", "add", "--category", "medical", "--text", "Faint at <stage> | front", "--author",
        "Ann")  # fmt: skip
    run("log", "add", "--category", "security", "--text", "Bag left at gate A", "--author", "Bo")
    target = tmp_path / "log.csv"
    code, _, err = run("log", "export", "--format", "csv", "-o", str(target))
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [(r["author"], r["category"]) for r in rows] == [("Ann", "medical"), ("Bo", "security")]
    code, out, _ = run("log", "export", "--format", "jsonl", "--category", "security")
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["Bag left at gate A"]
    code, out, _ = run("log", "export", "--format", "md")
    assert "Faint at &lt;stage&gt; \\| front" in out


def test_bad_input_is_refused_and_nothing_is_stored(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("log", "add", "--category", "medical", "--text", "  ")[0:1] == (2,)
    code, _, err = run("log", "add", "--category", "medical", "--text", "x" * 2001)
    assert (code, "text is 2001 characters, at most 2000" in err) == (2, True)
    code, _, err = run("log", "close", "--incident", "deadbeef", "--text", "done")
    assert (code, "no incident 'deadbeef' in the log" in err) == (2, True)
    venue = str(ROOT / "examples" / "venue.yaml")
    code, _, err = run("log", "add", "--category", "crowd", "--text", "t", "--location",
                       "atlantis", "--venue", venue)  # fmt: skip
    assert (code, "'atlantis' is not an entity of the venue" in err) == (2, True)
    with pytest.raises(SystemExit):
        run("log", "add", "--category", "aliens", "--text", "t")
    assert SqliteStore(tmp_path / "log.db").log_entries() == []
