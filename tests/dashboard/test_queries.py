"""The dashboard's pure queries against a real SQLite store, with a pinned clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from dashboard import queries
from dashboard.ack import AckError, ack_payload
from dashboard.families import coldchain as coldchain_part
from dashboard.families import crowd as crowd_part
from dashboard.families import power as power_part
from dashboard.families import shuttle as shuttle_part
from opsroom.rulesfile.kinds import GeofenceRule
from opsroom.rulesfile.subjects import subject_of
from opsroom.store.sqlite import SqliteStore
from opsroom.telemetry import Reading
from rules.kinds.geofence import GeofenceEvaluator
from tests.dashboard import data

NOW = datetime(2026, 7, 4, 18, 30, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    data.fill(tmp_path / "store.db", NOW)
    s = SqliteStore(tmp_path / "store.db")
    yield s
    s.close()


@pytest.fixture
def venue():
    return data.venue()


@pytest.mark.parametrize(
    ("window", "every"),
    [
        (timedelta(minutes=5), None),
        (timedelta(minutes=15), None),
        (timedelta(hours=1), timedelta(seconds=30)),
        (timedelta(hours=6), timedelta(minutes=2)),
        (timedelta(hours=24), timedelta(minutes=10)),
    ],
)
def test_choose_every_keeps_charts_near_240_points(window, every) -> None:
    assert queries.choose_every(window) == every


def test_data_age_is_fresh_then_stale_after_a_report_interval_and_the_grace(store, venue) -> None:
    fresh = queries.data_age(store, venue, ["coldchain"], NOW + timedelta(seconds=5), 60)
    assert fresh.age_s == 5 and not fresh.stale and fresh.sensors == len(venue.catering)
    # coldchain reports every 60 s: stale once the newest is more than 60 + 60 s old
    assert not queries.data_age(store, venue, ["coldchain"], NOW + timedelta(seconds=120), 60).stale
    late = queries.data_age(store, venue, ["coldchain"], NOW + timedelta(seconds=121), 60)
    assert late.stale and late.text == "2 min"


def test_data_age_without_data_is_not_stale_but_empty(tmp_path, venue) -> None:
    age = queries.data_age(SqliteStore(tmp_path / "empty.db"), venue, ["power"], NOW, 60)
    assert age.newest is None and age.text == "no data" and not age.stale


def test_data_age_sees_drill_data_and_ignores_sensors_outside_the_venue(tmp_path, venue) -> None:
    s = SqliteStore(tmp_path / "s.db")
    s.write_readings([Reading("power", "not-in-venue", NOW, {"voltage_v": 230.0}, True)])
    assert queries.data_age(s, venue, ["power"], NOW, 60).newest is None
    s.write_readings([Reading("power", "gen-family", NOW, {"voltage_v": 230.0}, True)])
    assert queries.data_age(s, venue, ["power"], NOW, 60).drill


def test_zones_show_occupancy_against_capacity_and_density(store, venue) -> None:
    zones = crowd_part.zones_frame(store, venue, NOW).set_index("id")
    arena = zones.loc[data.BUSY_ZONE]
    assert arena["occupancy_pct"] == pytest.approx(90)
    assert arena["density"] == pytest.approx(36000 / 45000)
    assert arena["status"] == "warning"  # above 85 % of capacity
    assert set(zones.drop(index=data.BUSY_ZONE)["status"]) == {"ok"}


def test_zone_density_above_four_per_square_metre_is_critical(tmp_path, venue) -> None:
    tent = next(z for z in venue.zones if z.id == "dance-tent")
    small = venue.model_copy(update={"zones": [tent.model_copy(update={"area_m2": 500})]})
    s = SqliteStore(tmp_path / "s.db")
    s.write_readings([Reading("crowd", "dance-tent", NOW, {"occupancy": 2100})])  # 42 %
    row = crowd_part.zones_frame(s, small, NOW).set_index("id").loc["dance-tent"]
    assert row["density"] == pytest.approx(4.2) and row["status"] == "critical"
    s.write_readings(
        [Reading("crowd", "dance-tent", NOW + timedelta(seconds=1), {"occupancy": 1100})]
    )
    row = crowd_part.zones_frame(s, small, NOW).set_index("id").loc["dance-tent"]
    assert row["status"] == "warning"  # 2.2 persons per m²


def test_zone_occupancy_above_95_percent_is_critical(tmp_path, venue) -> None:
    s = SqliteStore(tmp_path / "s.db")
    s.write_readings([Reading("crowd", "dance-tent", NOW, {"occupancy": 4800})])
    assert (
        crowd_part.zones_frame(s, venue, NOW).set_index("id").loc["dance-tent", "status"]
        == "critical"
    )


def test_gate_flow_is_counts_per_minute_per_metre(store, venue) -> None:
    gates = crowd_part.gates_frame(store, venue, NOW).set_index("id")
    # 100 in and 20 out every 30 s = 240 a minute both ways (as the gate-flow rule counts)
    # through a 10 m gate
    assert gates.loc["arena-gate", "in_per_min"] == pytest.approx(200)
    assert gates.loc["arena-gate", "out_per_min"] == pytest.approx(40)
    assert gates.loc["arena-gate", "flow_per_m_min"] == pytest.approx(24)
    assert gates.loc["family-gate", "flow_per_m_min"] == pytest.approx(60)  # 4 m


def test_gate_flow_above_the_green_guide_rate_is_critical(tmp_path, venue) -> None:
    s = SqliteStore(tmp_path / "s.db")
    s.write_readings(
        [
            Reading("crowd", "family-gate", NOW - timedelta(seconds=30 * i), {"in": 170})
            for i in range(4)
        ]
    )
    gate = crowd_part.gates_frame(s, venue, NOW).set_index("id").loc["family-gate"]
    assert gate["flow_per_m_min"] == pytest.approx(85)  # 340 a minute through 4 m
    assert gate["status"] == "critical"


# without a rules file, the shipped rules' levels: EN 50160 deviations are warnings there, an
# interruption (below 10 % of nominal) is critical
@pytest.mark.parametrize(
    ("values", "status"),
    [
        ({"voltage_v": 231.0, "frequency_hz": 50.0, "power_kw": 24.0}, "ok"),
        ({"voltage_v": 190.0, "frequency_hz": 50.0, "power_kw": 24.0}, "warning"),  # < -15 %
        ({"voltage_v": 254.0, "frequency_hz": 50.0, "power_kw": 24.0}, "warning"),  # > +10 %
        ({"voltage_v": 20.0, "frequency_hz": 50.0, "power_kw": 0.0}, "critical"),  # < 10 %
        ({"voltage_v": 231.0, "frequency_hz": 48.9, "power_kw": 24.0}, "warning"),  # < -2 %
        ({"voltage_v": 231.0, "frequency_hz": 50.0, "power_kw": 40.0}, "warning"),  # 83 % of 48
        ({"voltage_v": 231.0, "frequency_hz": 50.0, "power_kw": 46.0}, "critical"),  # 96 %
    ],
)
def test_generator_status_follows_the_bands(tmp_path, venue, values, status) -> None:
    s = SqliteStore(tmp_path / "s.db")
    s.write_readings([Reading("power", "gen-family", NOW, values)])
    gen = power_part.generators_frame(s, venue, NOW).set_index("id").loc["gen-family"]
    assert gen["status"] == status
    assert gen["load_pct"] == pytest.approx(values["power_kw"] / 48 * 100)


def test_generator_load_counts_apparent_power_as_the_rule_does(tmp_path, venue) -> None:
    # 20 kW is 42 % of the 48 kW rating, but 3 x 230 V x 100 A = 69 kVA is 115 % of 60 kVA
    s = SqliteStore(tmp_path / "s.db")
    values = {"voltage_v": 230.0, "current_a": 100.0, "frequency_hz": 50.0, "power_kw": 20.0}
    s.write_readings([Reading("power", "gen-family", NOW, values)])
    gen = power_part.generators_frame(s, venue, NOW).set_index("id").loc["gen-family"]
    assert gen["load_pct"] == pytest.approx(115)
    assert gen["status"] == "critical"


def test_units_follow_their_type_limits_and_count_danger_zone_time(store, venue) -> None:
    ids = [u.id for u in venue.catering]
    danger = coldchain_part.danger_zone_minutes(store, ids, NOW + timedelta(minutes=1))
    assert danger["smokestack-fridge"] == 0
    assert danger[data.HOT_FRIDGE] >= 30  # 9 °C for the whole 30 minutes
    units = coldchain_part.units_frame(store, venue, NOW, danger=danger).set_index("id")
    assert units.loc[data.HOT_FRIDGE, "status"] == "critical"
    assert units.loc["scoops-freezer-1", "status"] == "ok"
    assert units.loc["smokestack-hot", "limit_crit"] == 63


@pytest.mark.parametrize(
    ("unit", "temp", "status"),
    [
        ("smokestack-fridge", 6.0, "warning"),
        ("smokestack-fridge", 8.5, "critical"),
        ("scoops-freezer-1", -15.0, "warning"),
        ("scoops-freezer-1", -10.0, "critical"),
        ("smokestack-hot", 60.0, "critical"),
        ("smokestack-hot", 65.0, "ok"),
    ],
)
def test_unit_temperature_limits(tmp_path, venue, unit, temp, status) -> None:
    s = SqliteStore(tmp_path / "s.db")
    s.write_readings([Reading("coldchain", unit, NOW, {"temp_c": temp})])
    assert coldchain_part.units_frame(s, venue, NOW).set_index("id").loc[unit, "status"] == status


def test_a_stranded_bus_is_off_route_and_stopped_the_others_not(store, venue) -> None:
    buses = shuttle_part.shuttles_frame(store, venue, NOW).set_index("id")
    stranded = buses.loc[data.STRANDED_BUS]
    assert stranded["off_route"] and stranded["stopped"] and stranded["status"] == "warning"
    assert stranded["off_route_m"] > 200
    others = buses.drop(index=data.STRANDED_BUS)
    assert not others["off_route"].any() and not others["stopped"].any()


def test_one_slow_fix_is_not_stopped(tmp_path, venue) -> None:
    s = SqliteStore(tmp_path / "s.db")
    # far from any stop, on the path, slow for only the last minute
    lat, lon = venue.routes[1].geometry()[7]
    s.write_readings(
        [
            Reading("shuttle", "loop-bus-1", NOW - timedelta(seconds=30 * i), v)
            for i, v in enumerate(
                [{"lat": lat, "lon": lon, "speed_kmh": 0.0}] * 2
                + [{"lat": lat, "lon": lon, "speed_kmh": 20.0}] * 8
            )
        ]
    )
    bus = shuttle_part.shuttles_frame(s, venue, NOW).set_index("id").loc["loop-bus-1"]
    assert not bus["stopped"] and not bus["off_route"]


def test_off_route_metres_are_the_ones_the_geofence_rule_measures(tmp_path, venue) -> None:
    """The distance the Shuttles page shows is the one the off-route alert quotes."""
    bus = next(b for b in venue.shuttles if b.id == "loop-bus-1")
    route = next(r for r in venue.routes if r.id == bus.route)
    lat, lon = route.geometry()[3]
    fix = {"lat": lat + 0.0027, "lon": lon + 0.001, "speed_kmh": 0.0}  # about 300 m off
    s = SqliteStore(tmp_path / "s.db")
    s.write_readings([Reading("shuttle", bus.id, NOW, fix)])
    shown = shuttle_part.shuttles_frame(s, venue, NOW).set_index("id").loc[bus.id, "off_route_m"]
    rule = GeofenceRule.model_validate({"id": "off", "kind": "geofence", "applies_to": "shuttles"})
    evaluator = GeofenceEvaluator(rule, subject_of(bus, route))
    evaluator.step(fix, NOW.timestamp(), None)
    assert evaluator.value is not None and evaluator.value > 200
    assert shown == evaluator.value


def test_active_alerts_counts_history_and_resolution(store) -> None:
    active = queries.active_alert_table(store, NOW)
    assert list(active["alert_id"]) == [data.ALERT_ID]
    assert queries.alert_counts(active) == {"critical": 1, "warning": 0, "info": 0}
    resolved = data.firing_alert(NOW).model_copy(update={"state": "resolved", "ts": NOW})
    store.write_alert_events([resolved])
    assert not len(queries.active_alert_table(store, NOW + timedelta(seconds=1)))
    history = queries.alert_history(store, NOW - timedelta(hours=1), NOW + timedelta(seconds=1))
    assert list(history["state"]) == ["resolved", "firing"]  # newest first
    only = queries.alert_history(
        store, NOW - timedelta(hours=1), NOW + timedelta(seconds=1), states=["firing"]
    )
    assert list(only["state"]) == ["firing"]
    assert not len(
        queries.alert_history(
            store, NOW - timedelta(hours=1), NOW + timedelta(seconds=1), text="freezer"
        )
    )
    assert len(
        queries.alert_history(
            store, NOW - timedelta(hours=1), NOW + timedelta(seconds=1), text="SALAD"
        )
    )


def test_active_alerts_say_who_acknowledged_and_when(store) -> None:
    acked_at = NOW - timedelta(seconds=30)
    acked = data.firing_alert(NOW - timedelta(minutes=1)).model_copy(
        update={"state": "acknowledged", "ts": acked_at, "actor": "sam"}
    )
    store.write_alert_events([acked])
    [row] = queries.active_alert_table(store, NOW).to_dict("records")
    assert (row["actor"], row["acknowledged_at"]) == ("sam", acked_at)


def test_readings_around_an_alert(store) -> None:
    frame = queries.readings_around(store, data.firing_alert(NOW - timedelta(minutes=1)))
    assert set(frame["field"]) == {"temp_c"} and set(frame["value"]) == {9.0}
    assert frame["ts"].min() >= NOW - timedelta(minutes=30)


def test_family_and_zone_tiles(store, venue) -> None:
    active_events = queries.active_alert_events(store, NOW)
    frames = {
        "crowd": crowd_part.zones_frame(store, venue, NOW, active_events),
        "power": power_part.generators_frame(store, venue, NOW, active_events),
        "coldchain": coldchain_part.units_frame(store, venue, NOW, active_events),
        "shuttle": shuttle_part.shuttles_frame(store, venue, NOW, active_events),
    }
    ages = {k: queries.data_age(store, venue, [k], NOW, 60) for k in queries.FAMILY_LABELS}
    tiles = {
        t.key: t for t in queries.family_tiles(frames, queries.active_alert_table(store, NOW), ages)
    }
    assert {k: t.status for k, t in tiles.items()} == {
        "crowd": "warning",
        "power": "ok",
        "coldchain": "critical",
        "shuttle": "warning",
        "weather": "nodata",  # the stations have not reported
    }
    assert tiles["coldchain"].detail.startswith("1 active alert ·")
    later = {k: queries.data_age(store, venue, [k], NOW + timedelta(hours=1), 60) for k in ages}
    stale = queries.family_tiles(frames, queries.active_alert_table(store, NOW), later)
    assert {t.key: t.status for t in stale}["power"] == "stale"
    zone = {t.key: t for t in queries.zone_tiles(frames["crowd"])}[data.BUSY_ZONE]
    assert zone.status == "warning" and "36,000 / 40,000 (90 %)" in zone.detail


def test_ack_payload_is_actor_note_ts() -> None:
    body = orjson.loads(ack_payload(" Sam ", "on my way", NOW))
    assert body == {"actor": "Sam", "note": "on my way", "ts": NOW.isoformat()}
    with pytest.raises(AckError, match="name"):
        ack_payload("  ", "", NOW)


def test_hour_sliced_series_equals_one_query(tmp_path) -> None:
    s = SqliteStore(tmp_path / "s.db")
    now = datetime(2026, 7, 4, 18, 42, 10, tzinfo=UTC)
    s.write_readings(
        [
            Reading("power", f"gen-{n}", now - timedelta(seconds=45 * i), {"power_kw": i * 1.5 + n})
            for i in range(400)
            for n in range(2)
        ]
    )
    ids = ["gen-0", "gen-1"]
    fetched: list[datetime] = []

    def closed(hour: datetime):
        fetched.append(hour)
        return queries.series_frame(
            s, "power", "power_kw", ids, hour, hour + queries.HOUR, timedelta(minutes=2)
        )

    window = timedelta(hours=6)
    sliced = queries.window_series(s, "power", "power_kw", ids, now, window, closed)
    every = queries.choose_every(window)
    start = datetime.fromtimestamp((now - window).timestamp() // 120 * 120, UTC)
    whole = queries.series_frame(
        s, "power", "power_kw", ids, start, now + timedelta(minutes=5), every
    )
    assert sliced.to_dict("list") == whole.to_dict("list")
    assert fetched[0] == datetime(2026, 7, 4, 12, tzinfo=UTC) and len(fetched) == 6
    assert all(h + queries.HOUR <= now for h in fetched)  # only closed hours are cached
