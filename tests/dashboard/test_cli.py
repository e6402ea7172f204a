"""`opsroom dashboard` refuses to start open unless told to."""

from __future__ import annotations

import pytest

from opsroom.app.cli import main
from tests.dashboard import data


def test_dashboard_refuses_to_start_without_a_password(monkeypatch, capsys) -> None:
    for name in ("OPSROOM_DASHBOARD_PASSWORD", "OPSROOM_DASHBOARD_NO_AUTH"):
        monkeypatch.delenv(name, raising=False)
    assert main(["dashboard", "--venue", str(data.VENUE), "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "OPSROOM_DASHBOARD_PASSWORD" in err and "OPSROOM_DASHBOARD_NO_AUTH=1" in err


def test_dashboard_needs_a_venue(monkeypatch, capsys) -> None:
    monkeypatch.setenv("OPSROOM_DASHBOARD_PASSWORD", "x" * 12)
    monkeypatch.delenv("OPSROOM_VENUE", raising=False)
    assert main(["dashboard"]) == 2
    assert "venue" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--port", "--address", "--rules"])
def test_dashboard_help_names_its_flags(flag, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["dashboard", "--help"])
    assert flag in capsys.readouterr().out


def test_dashboard_refuses_a_password_under_12_characters(monkeypatch, capsys) -> None:
    monkeypatch.setenv("OPSROOM_DASHBOARD_PASSWORD", "eleven-char")
    assert main(["dashboard", "--venue", str(data.VENUE), "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "OPSROOM_DASHBOARD_PASSWORD" in err and "at least 12 characters" in err
    assert "eleven-char" not in err
