"""The rules side of the `opsroom` command: rules, query alerts, check-config --rules."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from opsroom.alerts import AlertEvent
from opsroom.app.cli import main
from opsroom.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[2]
VENUE = str(ROOT / "examples" / "venue.yaml")
RULES = str(ROOT / "examples" / "rules.yaml")
EXAMPLE_RULES = Path(RULES).read_text(encoding="utf-8")
EXAMPLE_RULE_LIST = yaml.safe_load(EXAMPLE_RULES)["rules"]
OTHER_VENUE = str(Path(__file__).with_name("other-venue.yaml"))  # none of the overrides' ids
T0 = datetime(2026, 7, 4, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("OPSROOM_"):
            monkeypatch.delenv(key)


def test_rules_needs_a_rules_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--venue", VENUE]) == 2
    err = capsys.readouterr().err
    assert "no rules file: pass --rules FILE or set OPSROOM_RULES" in err


def test_rules_needs_a_venue_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--rules", RULES]) == 2
    assert "no venue file: pass --venue FILE or set OPSROOM_VENUE" in capsys.readouterr().err


def test_check_config_checks_rules_against_the_venue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", VENUE, "--rules", RULES]) == 0
    out = capsys.readouterr().out
    assert f"{RULES}: OK:" in out and "rules" in out


def test_check_config_lists_an_override_of_an_unknown_unit_as_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in an override's entity is a warning with a suggestion (the rules file alone
    cannot tell it from another venue's entity); --strict makes warnings fail the check."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(EXAMPLE_RULES.replace("arena-bar-fridge: {hold", "arena-bar-fridg: {hold"))
    line = EXAMPLE_RULES[: EXAMPLE_RULES.index("arena-bar-fridge: {hold")].count("\n") + 1
    [i] = [
        i for i, r in enumerate(EXAMPLE_RULE_LIST) if "arena-bar-fridge" in r.get("overrides", {})
    ]
    assert main(["check-config", VENUE, "--rules", str(rules)]) == 0
    out = capsys.readouterr().out
    assert f"{rules}: OK: {len(EXAMPLE_RULE_LIST)} rules, 1 warning\n" in out
    assert (
        f"  warning: line {line}: rules[{i}].overrides.arena-bar-fridg: 'arena-bar-fridg' is not "
        "a zone, gate, generator, catering unit, shuttle, station or structure of the venue "
        "(did you mean 'arena-bar-fridge'?); this override is ignored\n"
    ) in out
    assert main(["check-config", VENUE, "--rules", str(rules), "--strict"]) == 1
    out = capsys.readouterr().out
    assert "FAILED (--strict: warnings count as errors)" in out and "arena-bar-fridg" in out


def test_check_config_passes_the_example_rules_with_another_venue(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The shared rules file with a second venue: OK, each override listed as a warning."""
    assert main(["check-config", OTHER_VENUE, "--rules", RULES]) == 0
    out = capsys.readouterr().out
    rules = EXAMPLE_RULE_LIST
    overrides = [
        (i, entity) for i, rule in enumerate(rules) for entity in rule.get("overrides", {})
    ]
    assert len(overrides) >= 5  # dance-tent-gate, gen-family, arena-bar-fridge, ...
    assert f"{RULES}: OK: {len(rules)} rules, {len(overrides)} warnings\n" in out
    warnings = [line for line in out.splitlines() if line.startswith("  warning: ")]
    for i, entity in overrides:
        [warning] = [w for w in warnings if f"rules[{i}].overrides.{entity}: " in w]
        assert f"{entity!r} is not a zone" in warning and "this override is ignored" in warning
    assert len(warnings) == len(overrides)


def test_check_config_checks_notifiers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = str(ROOT / "examples" / "notifiers.yaml")
    assert main(["check-config", VENUE, "--notifiers", sample]) == 2
    assert "environment variable OPS_WEBHOOK_TOKEN is not set" in capsys.readouterr().err
    from tests.rules.test_notify import SAMPLE_ENV

    for key, value in SAMPLE_ENV.items():
        monkeypatch.setenv(key, value)
    assert main(["check-config", VENUE, "--notifiers", sample]) == 0
    assert "4 notifiers (ops-webhook, duty-phones[0]" in capsys.readouterr().out


def _event(alert_id: str, state: str, minutes: int, **kw: object) -> AlertEvent:
    return AlertEvent.model_validate(
        {
            "alert_id": alert_id,
            "rule": alert_id.split(".", maxsplit=1)[0],
            "subject": alert_id.split(".")[1],
            "kind": "coldchain",
            "severity": "critical",
            "state": state,
            "ts": T0 + timedelta(minutes=minutes),
            "message": f"{state} message",
            **kw,
        }
    )


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    db = tmp_path / "alerts.db"
    store = SqliteStore(db)
    store.write_alert_events(
        [
            _event("cold.fridge-1.1", "firing", 0),
            _event("cold.fridge-2.1", "firing", 1, drill=True),
            _event("cold.fridge-1.1", "acknowledged", 2, actor="duty-1"),
            _event("cold.fridge-2.1", "resolved", 3, drill=True),
        ]
    )
    store.close()
    return f"sqlite:///{db}"


def test_query_alerts_json_lists_every_transition(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["query", "alerts", "--store", store_url, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["alert_id"], r["state"]) for r in rows] == [
        ("cold.fridge-1.1", "firing"),
        ("cold.fridge-2.1", "firing"),
        ("cold.fridge-1.1", "acknowledged"),
        ("cold.fridge-2.1", "resolved"),
    ]
    assert AlertEvent.model_validate(rows[2]).actor == "duty-1"


def test_query_alerts_active(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "alerts", "--store", store_url, "--active", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["alert_id"], r["state"]) for r in rows] == [("cold.fridge-1.1", "acknowledged")]


def test_query_alerts_since(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    since = (T0 + timedelta(minutes=2)).isoformat()
    assert main(["query", "alerts", "--store", store_url, "--since", since, "--json"]) == 0
    assert [r["state"] for r in json.loads(capsys.readouterr().out)] == [
        "acknowledged",
        "resolved",
    ]


def test_query_alerts_table(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "alerts", "--store", store_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ts", "state", "severity", "subject", "rule", "message"]
    assert len(lines) == 5
    assert "acknowledged" in lines[3] and "(by duty-1)" in lines[3]
    assert lines[4].endswith("[DRILL]")


def test_query_alerts_says_when_there_are_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["query", "alerts", "--store", f"sqlite:///{tmp_path / 'e.db'}", "--active"]) == 0
    assert capsys.readouterr().out.strip() == "no active alerts"
