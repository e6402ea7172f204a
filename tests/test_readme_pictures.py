"""The README shows only pictures that the browser tests take from the current app."""

from __future__ import annotations

from opsroom.rulesfile.model import load_rules
from opsroom.venue import load_venue
from tests import pictures

REGENERATE = f"regenerate it: OPSROOM_UPDATE_DOCS=1 .venv/bin/python -m pytest {pictures.GENERATOR}"


def test_every_readme_picture_is_taken_by_a_browser_test_from_the_current_examples() -> None:
    venue = load_venue(pictures.ROOT / "examples" / "venue.yaml")
    rule_ids = {r.id for r in load_rules(pictures.ROOT / "examples" / "rules.yaml", venue).rules}
    shown = pictures.readme_pictures()
    assert shown, "the README shows no picture: was the overview dropped on purpose?"
    for path in shown:
        assert path in pictures.PICTURES, f"{path} is in the README but no test takes it"
        file = pictures.ROOT / path
        assert file.is_file(), f"{path} is missing: {REGENERATE}"
        meta = pictures.read_text(file.read_bytes())
        assert meta.get("opsroom-generator") == pictures.PICTURES[path], (
            f"{path} was not written by {pictures.PICTURES[path]}: {REGENERATE}"
        )
        gone = set(filter(None, meta.get("opsroom-rules", "").split(","))) - rule_ids
        assert not gone, f"{path} shows rules that no longer exist ({sorted(gone)}): {REGENERATE}"
        assert meta.get("opsroom-timezone") == venue.event.timezone, (
            f"{path} shows times in {meta.get('opsroom-timezone')!r}, the example venue is in "
            f"{venue.event.timezone}: {REGENERATE}"
        )


def test_picture_text_survives_a_round_trip() -> None:
    png = (pictures.ROOT / "docs" / "overview.png").read_bytes()
    meta = {"opsroom-generator": "x::y", "opsroom-rules": "a,b"}
    assert pictures.read_text(pictures.with_text(png, meta)).items() >= meta.items()
