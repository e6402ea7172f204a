"""A drill's freezer failure activates its plan, a scripted operator ticks two of its steps, and
the drill report shows the step times: drill -> Mosquitto -> ingest + rules (with the example
plans) -> control log -> report."""

from __future__ import annotations

import io
import random
import time
from datetime import timedelta
from pathlib import Path

import pytest

from ingest import IngestService
from opsroom.broker import Mosquitto
from opsroom.configfile import ConfigError
from opsroom.plans import load_plans
from opsroom.rulesfile.model import load_rules
from opsroom.store.sqlite import SqliteStore
from opsroom.venue import Venue
from rules.engine import Engine
from rules.service import RulesService
from simulators.cli import drill_runs
from simulators.drill import check_against_plans, load_drill_text
from simulators.engine import Simulation
from simulators.matching import match
from simulators.mqtt_sink import MqttSink
from simulators.operator import DrillOperator
from simulators.report import fmt_delta, read_log, write_report
from simulators.runner import Runner, anchor_for
from tests.conftest import wait_until
from tests.simulators.conftest import ROOT, small_drill
from tests.simulators.test_end_to_end import settings_for

pytestmark = [pytest.mark.integration]

RULES = ROOT / "examples" / "rules.yaml"
PLANS = ROOT / "examples" / "plans.yaml"
DRILL = """
start: "12:00"
incidents:
  - {type: freezer_failure, at: 2m, target: scoops-freezer-2, duration: 50m, ambient_c: 28}
operator:
  - {at: 36m, plan_step: {plan: freezer-failure, step: keep-shut}}
  - {at: 55m, plan_step: {plan: freezer-failure, step: move-stock}}
"""


def test_operator_actions_are_validated(venue: Venue) -> None:
    with pytest.raises(ConfigError, match=r"operator\[0\]\.at: after the end of the drill"):
        load_drill_text(
            "name: t\nduration: 10m\noperator: [{at: 20m, plan_step: {plan: p, step: s}}]",
            "d.yaml",
            venue,
        )
    with pytest.raises(ConfigError, match=r"operator\[0\]\.plan_step\.step: Field required"):
        load_drill_text("name: t\nduration: 1h\noperator: [{at: 2m, plan_step: {plan: p}}]", "d")
    drill = small_drill(
        venue, "operator: [{at: 2m, plan_step: {plan: freezer-failure, step: nope}}]"
    )
    assert check_against_plans(drill, load_plans(PLANS)) == [
        "operator[0].plan_step.step: plan 'freezer-failure' has no step 'nope'"
    ]


def test_the_drill_report_shows_the_plan_steps_times(
    broker: Mosquitto, event: str, venue: Venue, tmp_path: Path
) -> None:
    drill = small_drill(venue, DRILL, duration="1h")
    settings = settings_for(broker, event, tmp_path).model_copy(update={"plans": PLANS})
    store = SqliteStore(tmp_path / "drill.db")
    ingest = IngestService(settings, store, venue)
    ruleset = load_rules(RULES, venue)
    plans = load_plans(PLANS)
    rules = RulesService(settings, store, Engine(ruleset, venue, None), venue, plans=plans)
    ingest.start()
    rules.start()
    try:
        assert ingest.wait_connected(10) and rules.wait_connected(10)
        start = time.time()
        anchor = anchor_for(start, drill.duration.total_seconds(), 0)
        sim = Simulation(venue, drill, event, anchor, random.Random(3))
        log = io.StringIO()
        operator = DrillOperator(store, settings)
        sink = MqttSink(settings, "5", f"sim-{event}")
        try:
            state = Runner(sim, sink, 0, start, sleep=sink.pump, log=log, operator=operator).run()
        finally:
            sink.close()
        assert state.completed and operator.done == 2

        def activated() -> bool:
            found = drill_runs(store.log_entries(), settings, sim.ts(sim.duration))
            return any(r.plan_id == "freezer-failure" for r in found)

        assert wait_until(activated, timeout=60)
    finally:
        rules.stop()
        ingest.stop()
    path = tmp_path / "incidents.jsonl"
    path.write_text(log.getvalue())
    drill_log = read_log(path)
    runs = drill_runs(store.log_entries(), settings, drill_log.finish)
    events = store.alert_events()
    store.close()
    (run,) = [r for r in runs if r.plan_id == "freezer-failure"]
    ticked = [(s.step_id, s.done_at, s.done_by) for s in run.steps if s.ticked]
    at = [drill_log.start + timedelta(minutes=m) for m in (36, 55)]
    assert ticked == [
        ("keep-shut", at[0], "drill-operator"),
        ("move-stock", at[1], "drill-operator"),
    ]
    result = match(drill_log.incidents, events, window=(drill_log.start, drill_log.finish))
    md, page = write_report(drill_log, result, tmp_path / "report", timedelta(minutes=5), runs)
    report = md.read_text()
    assert "## Contingency plans" in report
    (row,) = [line for line in report.splitlines() if "| Freezer failure |" in line]
    cells = [c.strip() for c in row.strip("|").split("|")]
    activated_at = "+" + fmt_delta(run.activated_at - drill_log.start)
    assert cells[3] == activated_at  # when the plan was activated
    # fired at about 32 min: keep-shut (due +5 min) on time, move-stock (+20 min) late
    # (the other two are due after the drill's end: not missed)
    assert [s.state for s in run.steps] == ["done", "late", "open", "open"]
    assert cells[4:7] == ["1", "1", "0"]  # on time, late, missed
    fired = min(a.firing_at for o in result.outcomes for a in o.alerts if a.firing_at)
    assert cells[7] == fmt_delta(at[1] - fired)  # alert to last step
    assert "keep-shut +36m 00s by drill-operator (on time" in cells[8]
    assert "move-stock +55m 00s by drill-operator (late" in cells[8]
    assert "check-thaw not due by the end" in cells[8]
    # the plan escalates 45 min after activation, after the drill's end
    escalate_at = "+" + fmt_delta(run.activated_at + timedelta(minutes=45) - drill_log.start)
    assert cells[9] == f"not due by the end (due {escalate_at})"
    assert 'data-plan-id="freezer-failure"' in page.read_text()
