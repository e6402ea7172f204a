"""`opsroom init DIR`: a starter set of files for a new event, which passes `check-config`.

From the shipped example (the only source today, `--from example`): its venue, rules, plans
and drills as they are, a notifiers file that sends nowhere yet, a `.env.example` with the
services' settings pointing at this folder, and a README of next steps. Nothing is
overwritten unless `--force` is given: if any file is already there, nothing is written.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from opsroom import topics
from opsroom.configfile import ConfigError
from opsroom.i18n import _
from opsroom.shipped import example

if TYPE_CHECKING:
    Sub = argparse._SubParsersAction[argparse.ArgumentParser]

SOURCES = ("example",)


@dataclass(frozen=True)
class Planned:
    """One file `init` writes: where, and its text."""

    path: Path
    text: str


def _starter(name: str) -> str:
    return files("opsroom.app").joinpath("starter", name).read_text(encoding="utf-8")


def plan(target: Path, source: str = "example") -> list[Planned]:
    """The files `init` writes into `target` (nothing is written here)."""
    if source not in SOURCES:
        raise ConfigError("init", [f"--from {source!r}: choose one of {', '.join(SOURCES)}"])
    where = str(target.resolve())
    # the event id the services will use (OPSROOM_EVENT): the folder's name, if it is one
    name = target.resolve().name
    event = name if topics.valid_id(name) else "my-event"

    def fill(text: str) -> str:
        return text.replace("{dir}", where).replace("{event}", event)

    copied = [
        "venue.yaml",
        "rules.yaml",
        "plans.yaml",
        "roster.yaml",
        "drills/opening-rush.yaml",
        "drills/festival-day.yaml",
    ]
    out = [Planned(target / n, example(n).read_text(encoding="utf-8")) for n in copied]
    out.append(Planned(target / "drills" / "README.md", example("drills/README.md").read_text()))
    out.append(Planned(target / "notifiers.yaml", _starter("notifiers.yaml")))
    out.append(Planned(target / ".env.example", fill(_starter("env.example"))))
    out.append(Planned(target / "README.md", fill(_starter("README.md"))))
    return out


def write(planned: list[Planned], force: bool = False) -> None:
    """Write every planned file; if one exists and not `force`, write none (ConfigError)."""
    if not force:
        there = [str(p.path) for p in planned if p.path.exists()]
        if there:
            raise ConfigError(
                "init", [_("already there (use --force to overwrite): {files}",
                           files=", ".join(there))]
            )  # fmt: skip
    for p in planned:
        if p.path.is_dir():
            raise ConfigError("init", [f"{p.path} is a folder, not a file"])
        p.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.path.with_name(f".{p.path.name}.tmp")
        tmp.write_text(p.text, encoding="utf-8")
        os.replace(tmp, p.path)


def cmd_init(args: argparse.Namespace) -> int:
    """Write a starter set for a new event: venue, rules, notifiers, drills, .env, README."""
    target: Path = args.dir
    if target.exists() and not target.is_dir():
        raise ConfigError("init", [_("{path} is a file, not a folder", path=target)])
    planned = plan(target, args.source)
    write(planned, args.force)
    for p in planned:
        print(_("wrote {path}", path=p.path))
    print(
        _(
            "next: read {readme}, then `opsroom check-config {dir}`",
            readme=target / "README.md",
            dir=target,
        )
    )
    return 0


def register_init(sub: Sub) -> None:
    """Add `opsroom init`."""
    p = sub.add_parser(
        "init",
        help="write a starter set of files for a new event (passes check-config as written)",
        description=cmd_init.__doc__,
    )
    p.add_argument("dir", type=Path, metavar="DIR", help="folder to write into (made if missing)")
    p.add_argument(
        "--from",
        dest="source",
        choices=SOURCES,
        default="example",
        help="what to start from (default: the example festival)",
    )
    p.add_argument("--force", action="store_true", help="overwrite files that are already there")
    p.set_defaults(handler=cmd_init)
