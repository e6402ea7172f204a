"""Out-of-tree families: declared in the `opsroom.families` entry-point group of a distribution.

Each test puts a tiny distribution (a module and its .dist-info with entry_points.txt) on
sys.path, as pip would install it, and runs the registry's discovery again.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from opsroom.families import ENTRY_POINTS, FamilyError, discover

HAIL = """

from opsroom.families.base import Family
from opsroom.telemetry.base import Number, Payload


class HailPayload(Payload):
    hail_mm: Number


FAMILY = Family(
    kind="{kind}",
    model=HailPayload,
    sample={"ts": "2026-07-04T18:30:00Z", "hail_mm": 4.0},
    description="hail pads",
)
"""


def install(
    site: Path, monkeypatch: pytest.MonkeyPatch, dist: str, target: str, module: str = ""
) -> None:
    """A distribution `dist` whose entry point `hail` is `target`, with `module` as its code."""
    site.mkdir(exist_ok=True)
    if module:
        name = target.split(":", maxsplit=1)[0]
        code = textwrap.dedent(module).replace("{kind}", "hail")
        (site / f"{name}.py").write_text(code, encoding="utf-8")
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINTS}]\nhail = {target}\n")
    monkeypatch.syspath_prepend(str(site))


def test_a_family_of_an_installed_distribution_joins_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(tmp_path / "site", monkeypatch, "opsroom-hail", "hail_pads_ok:FAMILY", HAIL)
    found = discover()
    assert found["hail"].description == "hail pads"
    assert found["hail"].model.model_validate(found["hail"].sample).hail_mm == 4.0
    # the families of this package are all still there
    assert {"crowd", "power", "coldchain", "shuttle", "weather"} <= found.keys()


def test_an_entry_point_naming_a_module_takes_its_family(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(tmp_path / "site", monkeypatch, "opsroom-hail", "hail_pads_module", HAIL)
    assert "hail" in discover()


def test_an_entry_point_that_fails_to_load_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = "import no_such_dependency_of_hail\n"
    install(tmp_path / "site", monkeypatch, "opsroom-hail", "hail_pads_broken:FAMILY", broken)
    with pytest.raises(FamilyError) as caught:
        discover()
    message = str(caught.value)
    assert "entry point hail = 'hail_pads_broken:FAMILY'" in message
    assert "opsroom-hail" in message and "no_such_dependency_of_hail" in message


def test_an_entry_point_that_is_not_a_family_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(
        tmp_path / "site", monkeypatch, "opsroom-hail", "hail_pads_dict:FAMILY", "FAMILY = {}\n"
    )
    with pytest.raises(
        FamilyError, match=r"hail = 'hail_pads_dict:FAMILY'.* is a dict, not a Family"
    ):
        discover()


def test_a_second_family_of_one_kind_is_refused_naming_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = HAIL.replace("{kind}", "weather")
    install(tmp_path / "site", monkeypatch, "opsroom-wx", "hail_pads_dup:FAMILY", module)
    with pytest.raises(FamilyError) as caught:
        discover()
    assert str(caught.value) == (
        "family kind 'weather' is declared twice: by opsroom/families/weather.py and by entry "
        f"point hail = 'hail_pads_dup:FAMILY' (group {ENTRY_POINTS}, opsroom-wx)"
    )
