"""The example files Opsroom ships inside its package: venue, rules, plans, roster, drills.

They are package data (`opsroom/examples/`, a link to the repository's `examples/`, so there
is one copy), read through importlib.resources. They are there in a source checkout, an
editable install and an installed wheel alike, so `opsroom demo` and `opsroom init` work
from any folder.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from opsroom.configfile import ConfigError

EXAMPLE_FILES = (
    "venue.yaml",
    "rules.yaml",
    "notifiers.yaml",
    "plans.yaml",
    "roster.yaml",
    "drills/opening-rush.yaml",
    "drills/festival-day.yaml",
    "drills/README.md",
)
"""Every shipped example, relative to the examples folder (a test checks the folder has no
other file, so a new example cannot be left out of the wheel)."""


def examples_dir() -> Path:
    """The folder of the shipped examples (a real folder: Opsroom is not run from a zip)."""
    root = files("opsroom").joinpath("examples")
    if not isinstance(root, Path):  # a zip import: no folder to give the services
        raise ConfigError("opsroom", [f"the shipped examples are not in a folder ({root})"])
    return root


def example(name: str) -> Path:
    """The path of one shipped example, e.g. example("rules.yaml"); ConfigError if missing."""
    path = examples_dir() / name
    if not path.is_file():
        raise ConfigError(
            "opsroom",
            [f"the shipped example {name} is missing from {path.parent}: reinstall opsroom"],
        )
    return path
