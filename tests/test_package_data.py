"""The examples ship inside the package, from one copy: the repository's examples/."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

from opsroom.shipped import EXAMPLE_FILES, example, examples_dir

ROOT = Path(__file__).resolve().parents[1]


def test_the_package_examples_are_the_repository_examples() -> None:
    # one source: opsroom/examples is a link to examples/, so they cannot drift apart
    assert examples_dir().resolve() == (ROOT / "examples").resolve()
    for name in EXAMPLE_FILES:
        assert example(name).read_bytes() == (ROOT / "examples" / name).read_bytes()


def test_every_example_file_is_listed_and_goes_into_the_wheel() -> None:
    on_disk = {
        str(p.relative_to(ROOT / "examples"))
        for p in (ROOT / "examples").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert on_disk == set(EXAMPLE_FILES), "list a new example in opsroom/shipped.py"
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["opsroom"]
    for name in EXAMPLE_FILES:
        assert any(fnmatch.fnmatch(f"examples/{name}", g) for g in globs), name
