"""Shared pieces of the simulator tests: the example venue and drills, a fixed drill clock."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opsroom.venue import Venue, load_venue
from simulators.drill import Drill, load_drill, load_drill_text
from simulators.engine import Message, Simulation

ROOT = Path(__file__).resolve().parents[2]
VENUE = ROOT / "examples" / "venue.yaml"
DRILLS = ROOT / "examples" / "drills"
ANCHOR = datetime(2026, 7, 4, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def venue() -> Venue:
    return load_venue(VENUE)


@pytest.fixture(scope="session")
def festival_day(venue: Venue) -> Drill:
    return load_drill(DRILLS / "festival-day.yaml", venue)


@pytest.fixture(scope="session")
def opening_rush(venue: Venue) -> Drill:
    return load_drill(DRILLS / "opening-rush.yaml", venue)


def simulate(venue: Venue, drill: Drill, seed: int = 1, event: str = "demo") -> Simulation:
    return Simulation(venue, drill, event, ANCHOR, random.Random(seed))


@pytest.fixture(scope="session")
def festival_run(venue: Venue, festival_day: Drill) -> tuple[Simulation, list[Message]]:
    """The whole festival day, played once for the invariant tests."""
    sim = simulate(venue, festival_day, seed=festival_day.seed)
    return sim, list(sim.messages())


def drill_text(venue_path: Path = VENUE, body: str = "") -> str:
    return f"name: t\nvenue: {venue_path}\nduration: 1h\n{body}"


def small_drill(venue: Venue, body: str = "", duration: str = "1h") -> Drill:
    return load_drill_text(f"name: t\nduration: {duration}\n{body}", "test.yaml", venue)
