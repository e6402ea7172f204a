"""The dashboard's bands: from the rules file's levels in the tile's unit, else the defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from dashboard import limits, queries
from dashboard.families import coldchain as coldchain_part
from dashboard.families import power as power_part
from opsroom.rulesfile import model
from opsroom.rulesfile.bands import Levels, threshold_levels, time_in_range
from opsroom.rulesfile.kinds import Level
from opsroom.rulesfile.model import load_rules, load_rules_text
from opsroom.store.sqlite import SqliteStore
from opsroom.telemetry import Reading
from tests.dashboard import data

NOW = datetime(2026, 7, 4, 18, 30, tzinfo=UTC)
EXAMPLE_RULES = data.VENUE.parent / "rules.yaml"


def lv(severity: str, *, above: float | None = None, below: float | None = None) -> Level:
    clear = above - 1 if above is not None else below + 1  # type: ignore[operator]
    return Level.model_validate(
        {"severity": severity, "above": above, "below": below, "clear": clear}
    )


@pytest.fixture(scope="module")
def venue():
    return data.venue()


def entity(venue, section: str, entity_id: str):
    return next(e for e in getattr(venue, section) if e.id == entity_id)


def test_without_rules_or_a_watching_rule_the_defaults_apply(venue) -> None:
    fridge = entity(venue, "catering", "smokestack-fridge")
    default = limits.Band(warn_high=5.0, crit_high=8.0)
    assert limits.temperature_band(fridge) == default
    assert limits.temperature_band(fridge, None) == default
    # a rules file that watches nothing of this unit's temperature
    assert limits.temperature_band(fridge, {}) == default
    assert limits.temperature_band(fridge, {"battery_pct": (lv("warning", below=20),)}) == default


def _forget_defaults() -> None:
    for cached in (
        model.shipped_rules,
        limits.defaults,
        limits.default_levels,
        limits.default_danger_zone,
    ):
        cached.cache_clear()


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """Point the shipped rules file elsewhere; the defaults are read again afterwards."""

    def point_at(path):
        monkeypatch.setattr(model, "SHIPPED_RULES", path)
        _forget_defaults()

    yield point_at
    monkeypatch.undo()
    _forget_defaults()


def test_the_defaults_are_the_shipped_rules_files_levels(tmp_path, venue, shipped) -> None:
    """The default limits are written once, in the shipped rules file: edit it, they follow."""
    zone = entity(venue, "zones", "main-arena")
    assert limits.density_band(zone) == limits.Band(warn_high=2.0, crit_high=4.0)
    original = model.SHIPPED_RULES.read_text(encoding="utf-8")
    edited = original.replace(
        "{severity: warning, above: 2.0, clear: 1.8}", "{severity: warning, above: 1.5, clear: 1.3}"
    ).replace("stop_radius_m: 50", "stop_radius_m: 80")
    assert edited.count("1.5, clear: 1.3") == 1 and "stop_radius_m: 80" in edited
    (tmp_path / "rules.yaml").write_text(edited, encoding="utf-8")
    shipped(tmp_path / "rules.yaml")
    assert limits.density_band(zone) == limits.Band(warn_high=1.5, crit_high=4.0)
    assert limits.stopped_rule().stop_radius_m == 80
    # without the file, no invented limits: a tile is uncoloured rather than wrong
    shipped(tmp_path / "missing.yaml")
    assert limits.density_band(zone) == limits.Band()
    assert limits.default_danger_zone() is None


def test_a_value_switched_off_for_an_entity_has_no_band(venue) -> None:
    fridge = entity(venue, "catering", "smokestack-fridge")
    band = limits.temperature_band(fridge, {"temp_c": ()})
    assert band == limits.Band() and band.status(30.0) == "ok" and band.text() == "no limits"


def test_the_strictest_level_of_each_severity_wins_and_info_colours_nothing(venue) -> None:
    fridge = entity(venue, "catering", "smokestack-fridge")
    levels: Levels = {
        "temp_c": (
            lv("warning", above=5),
            lv("warning", above=4),
            lv("critical", above=8),
            lv("info", above=1),
            lv("critical", below=0),
        )
    }
    band = limits.temperature_band(fridge, levels)
    assert band == limits.Band(warn_high=4, crit_high=8, crit_low=0)
    assert band.text() == "warning 4, critical below 0, critical 8"


@pytest.mark.parametrize(
    ("section", "entity_id", "band_of", "levels", "expected"),
    [
        # occupancy tiles show a fraction of capacity (main-arena: 40,000)
        (
            "zones",
            "main-arena",
            limits.occupancy_band,
            {"occupancy_pct": (lv("warning", above=80), lv("critical", above=90))},
            limits.Band(warn_high=0.8, crit_high=0.9),
        ),
        (
            "zones",
            "main-arena",
            limits.occupancy_band,
            {"occupancy": (lv("critical", above=30_000),)},
            limits.Band(crit_high=0.75),
        ),
        (
            "zones",
            "main-arena",
            limits.density_band,
            {"density_ppm2": (lv("warning", above=1.5),)},
            limits.Band(warn_high=1.5),
        ),
        (
            "gates",
            "family-gate",
            limits.gate_flow_band,
            {"flow_ppmm": (lv("warning", above=55), lv("critical", above=66))},
            limits.Band(warn_high=55, crit_high=66),
        ),
        # gen-family: 230 V, 50 Hz, 60 kVA x 0.8 = 48 kW
        (
            "generators",
            "gen-family",
            limits.voltage_band,
            {
                "voltage_dev_pct": (lv("warning", above=10), lv("warning", below=-15)),
                "voltage_pct": (lv("critical", below=10),),
            },
            limits.Band(warn_high=253, warn_low=195.5, crit_low=23),
        ),
        (
            "generators",
            "gen-family",
            limits.frequency_band,
            {"frequency_dev_pct": (lv("warning", above=2), lv("warning", below=-2))},
            limits.Band(warn_high=51, warn_low=49),
        ),
        (
            "generators",
            "gen-family",
            limits.load_band,
            {"load_pct": (lv("warning", above=70), lv("critical", above=90))},
            limits.Band(warn_high=33.6, crit_high=43.2),
        ),
        (
            "catering",
            "smokestack-hot",
            limits.temperature_band,
            {"temp_c": (lv("critical", below=57),)},
            limits.Band(crit_low=57),
        ),
    ],
)
def test_levels_are_converted_to_the_tiles_unit(
    venue, section, entity_id, band_of, levels, expected
) -> None:
    band = band_of(entity(venue, section, entity_id), levels)
    for got, want in zip(
        (band.warn_low, band.warn_high, band.crit_low, band.crit_high),
        (expected.warn_low, expected.warn_high, expected.crit_low, expected.crit_high),
        strict=True,
    ):
        assert got == pytest.approx(want)


def test_shuttle_speed_follows_the_overspeed_rule(venue) -> None:
    route = venue.routes[0]
    assert limits.speed_band(route).warn_high == route.speed_limit_kmh
    over = limits.speed_band(route, {"over_limit_kmh": (lv("warning", above=5),)})
    assert over.warn_high == route.speed_limit_kmh + 5


def test_the_example_rules_overrides_change_statuses(tmp_path, venue) -> None:
    thresholds = threshold_levels(load_rules(EXAMPLE_RULES, venue), venue)
    s = SqliteStore(tmp_path / "s.db")
    # 35 kW of gen-family's 48: 73 %, under the 80 % default, over its 70 % override
    s.write_readings([Reading("power", "gen-family", NOW, {"voltage_v": 231.0, "power_kw": 35.0})])
    assert power_part.generators_frame(s, venue, NOW).set_index("id").loc[
        "gen-family", "status"
    ] == ("ok")
    gens = power_part.generators_frame(s, venue, NOW, thresholds=thresholds).set_index("id")
    assert gens.loc["gen-family", "status"] == "warning"


def test_a_rule_disabled_for_one_unit_leaves_it_uncoloured(tmp_path, venue) -> None:
    rules = load_rules_text(
        f"""
rules:
  - id: cold-holding
    kind: threshold
    applies_to: fridge
    value: temp_c
    levels: [{{severity: critical, above: 8, clear: 7.5}}]
    overrides:
      {data.HOT_FRIDGE}: {{enabled: false}}
""",
        "rules.yaml",
        venue,
    )
    thresholds = threshold_levels(rules, venue)
    s = SqliteStore(tmp_path / "s.db")
    s.write_readings(
        [
            Reading("coldchain", data.HOT_FRIDGE, NOW, {"temp_c": 9.0}),
            Reading("coldchain", "smokestack-fridge", NOW, {"temp_c": 9.0}),
        ]
    )
    units = coldchain_part.units_frame(s, venue, NOW, thresholds=thresholds).set_index("id")
    assert units.loc[data.HOT_FRIDGE, "status"] == "ok"
    assert units.loc["smokestack-fridge", "status"] == "critical"
    # no warning level in this file: 6 °C is fine by it, though the default warns
    later = NOW + timedelta(seconds=1)
    s.write_readings([Reading("coldchain", "smokestack-fridge", later, {"temp_c": 6.0})])
    units = coldchain_part.units_frame(s, venue, NOW, thresholds=thresholds).set_index("id")
    assert units.loc["smokestack-fridge", "status"] == "ok"
    assert pd.isna(units.loc["smokestack-fridge", "limit_warn"])


DANGER = """
rules:
  - id: danger-zone
    kind: cumulative
    applies_to: catering
    value: temp_c
    above: 5
    below: 60
    levels: [{severity: warning, after: 2h}, {severity: critical, after: 4h}]
    overrides:
      smokestack-fridge:
        above: 8
        levels: [{severity: critical, after: 10m}]
      green-leaf-fridge: {enabled: false}
"""


def test_danger_zones_follow_the_cumulative_rule(venue) -> None:
    ranges = time_in_range(load_rules_text(DANGER, "rules.yaml", venue), venue)
    assert limits.danger_zone(None) == limits.default_danger_zone()
    assert limits.danger_zone({}) == limits.default_danger_zone()  # no cumulative rule: defaults
    assert limits.danger_zone(ranges["smokestack-hot"]) == limits.default_danger_zone()
    strict = limits.danger_zone(ranges["smokestack-fridge"])
    assert strict == limits.DangerZone(8, 60, None, 10)
    assert strict.text() == "between 8 and 60 °C (10 min: discard)"
    assert limits.danger_zone(ranges[data.HOT_FRIDGE]) is None
    assert limits.default_danger_zone().text() == "between 5 and 60 °C (2 h: use now, 4 h: discard)"


def test_danger_zone_minutes_and_status_per_unit(tmp_path, venue) -> None:
    s = SqliteStore(tmp_path / "s.db")
    s.write_readings(
        [
            Reading("coldchain", sid, NOW - timedelta(minutes=m), {"temp_c": 7.0})
            for m in range(0, 30)
            for sid in ("smokestack-fridge", "arena-bar-fridge")
        ]
    )
    ranges = {"smokestack-fridge": (6.0, 60.0)}
    minutes = coldchain_part.danger_zone_minutes(
        s, ["smokestack-fridge", "arena-bar-fridge"], NOW + timedelta(minutes=1), ranges=ranges
    )
    assert minutes["smokestack-fridge"] >= 25 and minutes["arena-bar-fridge"] >= 25
    minutes = coldchain_part.danger_zone_minutes(
        s,
        ["smokestack-fridge", "arena-bar-fridge"],
        NOW + timedelta(minutes=1),
        ranges={"smokestack-fridge": (8.0, 60.0)},
    )
    assert minutes["smokestack-fridge"] == 0 and minutes["arena-bar-fridge"] >= 25
    # temperature levels off, so only the danger zone colours
    off: queries.Thresholds = {
        "arena-bar-fridge": {"temp_c": ()},
        "smokestack-fridge": {"temp_c": ()},
    }
    zones = {"arena-bar-fridge": limits.DangerZone(5, 60, None, 20), "smokestack-fridge": None}
    units = coldchain_part.units_frame(
        s, venue, NOW, danger=minutes, thresholds=off, danger_zones=zones
    )
    units = units.set_index("id")
    assert units.loc["arena-bar-fridge", "status"] == "critical"  # 25 min of its 20
    assert units.loc["smokestack-fridge", "status"] == "ok"  # not watched
    default = coldchain_part.units_frame(s, venue, NOW, danger=minutes, thresholds=off).set_index(
        "id"
    )
    assert default.loc["arena-bar-fridge", "status"] == "ok"  # 25 min of the default 2 h
