"""The roster: people and teams that own alerts, incidents and plan steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsroom.app.cli import main
from opsroom.configfile import ConfigError, load_model_text
from opsroom.roster import Person, Roster, Team, load_roster

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_the_shipped_roster_covers_every_plan_role_but_the_vendor(
    capsys: pytest.CaptureFixture[str],
) -> None:
    roster = load_roster(EXAMPLES / "roster.yaml")
    chen = roster.owner("chen-jing")
    assert isinstance(chen, Person) and chen.role == "food-safety-officer"
    assert isinstance(roster.owner("medics"), Team)
    assert roster.owner("nobody") is None
    assert [p.id for p in roster.by_role("control-operator")] == ["tom-okafor", "zhang-min"]
    args = ["check-config", str(EXAMPLES / "venue.yaml"), "--rules", str(EXAMPLES / "rules.yaml")]
    assert main([*args, "--plans", str(EXAMPLES / "plans.yaml"), "--roster",
                 str(EXAMPLES / "roster.yaml")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "17 people, 8 teams" in out
    notes = [line for line in out.splitlines() if "nobody on the roster" in line]
    assert notes == ["  note: plan role 'vendor': nobody on the roster has it"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("people:\n  - {id: a, name: A, role: Medic}\n", "line 2: people[0].role"),
        ("people:\n  - {id: a, name: A, role: medic, team: ghosts}\n",
         "line 2: people[0].team: no team 'ghosts' in teams:"),
        ("teams:\n  - {id: a, name: A}\npeople:\n  - {id: a, name: B, role: medic}\n",
         "line 4: people[0].id: id 'a' is already used by teams[0]"),
        ("teams:\n  - {id: a, name: Stewards (north, gates)}\n",
         "a comma inside {...} starts a new key: put the value in quotes"),
        ("people:\n  - {id: a, name: '', role: medic}\n", "line 2: people[0].name"),
    ],
)  # fmt: skip
def test_a_bad_roster_is_named_by_line_and_field(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_model_text(Roster, text, "roster.yaml")
    assert expected in str(err.value)
