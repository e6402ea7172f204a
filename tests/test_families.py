"""Sensor families are plugins: each kernel family has its parts, and no other code names one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dashboard.families import PARTS as DASHBOARD_PARTS
from dashboard.families import TABLES
from opsroom.families import FAMILIES
from simulators.families import INCIDENTS, PARTS

ROOT = Path(__file__).resolve().parent.parent
NAMES = frozenset(FAMILIES)
# the families' own files: the kernel part and each layer's part, named by kind
OWN_DIRS = ("opsroom/families", "simulators/families", "dashboard/families")
# code outside the families that may name one (examples and docs only)
ALLOWED: frozenset[str] = frozenset()
PACKAGES = ("opsroom", "ingest", "rules", "dashboard", "simulators")


def test_the_five_families_are_found_by_scanning() -> None:
    assert {"crowd", "power", "coldchain", "shuttle", "weather"} <= NAMES


@pytest.mark.parametrize("kind", sorted(FAMILIES))
def test_every_family_has_its_simulator_part(kind: str) -> None:
    family = FAMILIES[kind]
    assert kind in PARTS, f"simulators/families/{kind}.py is missing"
    assert callable(PARTS[kind].build)
    assert family.sample, f"opsroom/families/{kind}.py has no sample"
    assert family.required_field in family.model.model_fields, family.required_field
    assert family.sections, f"opsroom/families/{kind}.py brings no venue section"


@pytest.mark.parametrize("kind", sorted(FAMILIES))
def test_every_family_has_its_dashboard_part(kind: str) -> None:
    assert kind in DASHBOARD_PARTS, f"dashboard/families/{kind}.py is missing"
    part = DASHBOARD_PARTS[kind]
    assert FAMILIES[kind].title and part.ICON.startswith(":material/")
    assert part.TABLES and all(TABLES[name] is table for name, table in part.TABLES.items())
    assert 'if __name__ == "__main__":' in Path(part.__file__).read_text(), "its page"


def test_incident_types_name_a_section_of_their_family() -> None:
    for name, incident in INCIDENTS.items():
        kinds = [
            f.kind for f in FAMILIES.values() for s in f.sections if s.name == incident.section
        ]
        assert kinds == [incident.expect.kind], name


def _branches(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, name) of every family name compared, matched or used as a dict key."""
    found: list[tuple[int, str]] = []

    def names(node: ast.AST | None) -> list[str]:
        if isinstance(node, ast.Constant) and node.value in NAMES:
            return [node.value]
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return [n for e in node.elts for n in names(e)]
        return []

    for node in ast.walk(tree):
        hits: list[str] = []
        if isinstance(node, ast.Compare):
            hits = [n for e in (node.left, *node.comparators) for n in names(e)]
        elif isinstance(node, ast.Dict):
            hits = [n for k in node.keys for n in names(k)]
        elif isinstance(node, ast.MatchValue):
            hits = names(node.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            # table.get("crowd"), table["crowd"] below: a lookup keyed on a family is a branch
            if node.func.attr in ("get", "pop", "setdefault") and node.args:
                hits = names(node.args[0])
        elif isinstance(node, ast.Subscript):
            hits = names(node.slice)
        found += [(getattr(node, "lineno", 0), n) for n in hits]
    return found


def _outside_the_families() -> list[Path]:
    out = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(OWN_DIRS) or rel in ALLOWED:
                continue
            out.append(path)
    return out


def test_no_code_outside_the_families_branches_on_a_family_name() -> None:
    offences = [
        f"{path.relative_to(ROOT)}:{line}: {name!r}"
        for path in _outside_the_families()
        for line, name in _branches(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not offences, "family names outside the families' own files:\n" + "\n".join(offences)


def test_the_check_finds_a_branch_on_a_family_name() -> None:
    code = 'if kind == "crowd": pass\nX = {"power": 1}\nmatch k:\n    case "shuttle": pass\n'
    assert [n for _, n in _branches(ast.parse(code))] == ["crowd", "power", "shuttle"]
