"""The sensor families, found by scanning this package: no list of them to keep by hand.

Every module here but `base` declares one family as `FAMILY = Family(...)`. Each other layer
finds its own part of a family the same way, through `parts()` on its own package.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from opsroom.families.base import Derived, Family, Section, Subject, ValueFn

__all__ = ["FAMILIES", "Derived", "Family", "Section", "Subject", "ValueFn", "parts"]

FAMILIES: dict[str, Family] = {}


def parts(package: ModuleType, skip: frozenset[str] = frozenset({"base"})) -> dict[str, ModuleType]:
    """Import every module of `package` (but `_private` ones and `skip`), by module name."""
    out: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in skip:
            continue
        out[info.name] = importlib.import_module(f"{package.__name__}.{info.name}")
    return out


def _discover() -> dict[str, Family]:
    import opsroom.families as package

    found: list[Family] = []
    for name, module in parts(package).items():
        family = getattr(module, "FAMILY", None)
        if not isinstance(family, Family):
            raise TypeError(f"opsroom/families/{name}.py declares no FAMILY = Family(...)")
        if family.kind != name:
            raise TypeError(f"opsroom/families/{name}.py declares kind {family.kind!r}")
        found.append(family)
    return {f.kind: f for f in sorted(found, key=lambda f: (f.order, f.kind))}


FAMILIES.update(_discover())
