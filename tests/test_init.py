"""`opsroom init DIR`: a starter set for a new event that passes check-config as written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from opsroom.app.cli import main

EXPECTED = {
    "venue.yaml",
    "rules.yaml",
    "plans.yaml",
    "roster.yaml",
    "notifiers.yaml",
    "drills/opening-rush.yaml",
    "drills/festival-day.yaml",
    "drills/README.md",
    ".env.example",
    "README.md",
}


def opsroom(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opsroom", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def written(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_init_writes_a_set_that_check_config_passes(tmp_path: Path) -> None:
    done = opsroom("init", "riverside-2027", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "riverside-2027"
    assert written(folder) == EXPECTED
    checked = opsroom("check-config", "riverside-2027", "--strict", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # every file of the set was checked, drills against the venue included
    for name in (
        "venue.yaml",
        "rules.yaml",
        "plans.yaml",
        "roster.yaml",
        "notifiers.yaml",
        "opening-rush.yaml",
    ):
        assert f"{name}: OK" in checked.stdout
    env = (folder / ".env.example").read_text()
    assert "OPSROOM_EVENT=riverside-2027" in env
    assert f"OPSROOM_VENUE={folder.resolve()}/venue.yaml" in env
    assert "OPSROOM_DASHBOARD_PASSWORD=\n" in env  # secrets are left for the user to fill
    assert "{dir}" not in (folder / "README.md").read_text()


def test_init_refuses_to_overwrite_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ev"
    folder.mkdir()
    (folder / "rules.yaml").write_text("my own rules\n")
    assert main(["init", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "already there" in err and "rules.yaml" in err and "--force" in err
    assert written(folder) == {"rules.yaml"}  # nothing else was written
    assert (folder / "rules.yaml").read_text() == "my own rules\n"
    assert main(["init", str(folder), "--force"]) == 0
    assert written(folder) == EXPECTED
    assert (folder / "rules.yaml").read_text() != "my own rules\n"


def test_init_into_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "a-file"
    target.write_text("x")
    assert main(["init", str(target)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_check_config_of_a_folder_names_a_bad_drill(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ev"
    assert main(["init", str(folder)]) == 0
    capsys.readouterr()
    (folder / "drills" / "broken.yaml").write_text("name: Broken\nincidents: 7\n")
    assert main(["check-config", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "broken.yaml" in err and "incidents" in err
