"""The sensor families, found by scanning this package: no list of them to keep by hand.

Every module here but `base` declares one family as `FAMILY = Family(...)`. Each other layer
finds its own part of a family the same way, through `parts()` on its own package.

Families from outside this repository come from the `opsroom.families` entry-point group of
any installed distribution: `myfamily = "mypkg.wind:FAMILY"` (a Family, or a module defining
`FAMILY`). One that fails to load, or is not a Family, stops start-up with an error naming
the entry point; two declarations of one kind are refused, naming both.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType

from opsroom.families.base import Derived, Family, Section, Subject, ValueFn

__all__ = [
    "ENTRY_POINTS",
    "FAMILIES",
    "Derived",
    "Family",
    "FamilyError",
    "Section",
    "Subject",
    "ValueFn",
    "discover",
    "parts",
]

ENTRY_POINTS = "opsroom.families"  # the entry-point group of out-of-tree families

FAMILIES: dict[str, Family] = {}


def parts(package: ModuleType, skip: frozenset[str] = frozenset({"base"})) -> dict[str, ModuleType]:
    """Import every module of `package` (but `_private` ones and `skip`), by module name."""
    out: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in skip:
            continue
        out[info.name] = importlib.import_module(f"{package.__name__}.{info.name}")
    return out


class FamilyError(TypeError):
    """A family declaration that cannot be used; the message names where it comes from."""


def _origin(ep: EntryPoint) -> str:
    dist = ep.dist.name if ep.dist is not None else "an unknown distribution"
    return f"entry point {ep.name} = {ep.value!r} (group {ENTRY_POINTS}, {dist})"


def _from_entry_point(ep: EntryPoint) -> Family:
    """The Family an entry point declares; FamilyError naming it if it cannot be had."""
    try:
        loaded = ep.load()
    except Exception as exc:  # a plugin's import may raise anything: say which one failed
        raise FamilyError(f"{_origin(ep)} failed to load: {type(exc).__name__}: {exc}") from exc
    family = getattr(loaded, "FAMILY", None) if isinstance(loaded, ModuleType) else loaded
    if not isinstance(family, Family):
        raise FamilyError(
            f"{_origin(ep)} is a {type(loaded).__name__}, not a Family "
            "(point it at a Family, or a module defining FAMILY = Family(...))"
        )
    return family


def discover() -> dict[str, Family]:
    """Every family: this package's modules, then the `opsroom.families` entry points."""
    import opsroom.families as package

    found: dict[str, tuple[Family, str]] = {}
    for name, module in parts(package).items():
        family = getattr(module, "FAMILY", None)
        if not isinstance(family, Family):
            raise FamilyError(f"opsroom/families/{name}.py declares no FAMILY = Family(...)")
        if family.kind != name:
            raise FamilyError(f"opsroom/families/{name}.py declares kind {family.kind!r}")
        found[family.kind] = (family, f"opsroom/families/{name}.py")
    for ep in entry_points(group=ENTRY_POINTS):
        family = _from_entry_point(ep)
        if family.kind in found:
            raise FamilyError(
                f"family kind {family.kind!r} is declared twice: by {found[family.kind][1]} "
                f"and by {_origin(ep)}"
            )
        found[family.kind] = (family, _origin(ep))
    families = sorted((f for f, _ in found.values()), key=lambda f: (f.order, f.kind))
    return {f.kind: f for f in families}


FAMILIES.update(discover())
