"""Escalation and silences as pure stages, on a pinned event clock (no broker, no wall clock)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opsroom.alerts import AlertEvent
from opsroom.configfile import ConfigError
from opsroom.silences import Known, Silence, SilenceError, build, parse, parse_duration
from rules.escalation import EscalationPolicy, Escalator, Tier
from rules.notify import Dispatcher, NotifierSet, RetryPolicy, Route, load_notifiers
from rules.silencer import SilenceBook

T0 = datetime(2026, 7, 4, 18, 0, tzinfo=UTC)
POLICY = {
    "critical": EscalationPolicy(
        tiers=[Tier(after_min=5, notify=["duty"]), Tier(after_min=15, notify=["manager"])],
        repeat_min=10,
    )
}


def alert(
    state: str = "firing", at: float = 0, severity: str = "critical", **kw: Any
) -> AlertEvent:
    return AlertEvent(
        alert_id="cold-holding.fridge-3.1",
        rule="cold-holding",
        subject="fridge-3",
        kind="coldchain",
        severity=severity,  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        ts=T0 + timedelta(minutes=at),
        message="fridge above 8 °C for 15 min",
        **kw,
    )


def never(_: AlertEvent) -> bool:
    return False


def run(esc: Escalator, minutes: list[float], held: Any = never) -> list[tuple[float, int, int]]:
    """(event minute, tier, repeat) of every escalation when the clock reaches each minute."""
    out = []
    for m in minutes:
        for e in esc.due(T0 + timedelta(minutes=m), held):
            out.append(((e.at - T0).total_seconds() / 60, e.tier, e.repeat))
    return out


def test_tiers_come_on_event_time_then_the_last_repeats() -> None:
    esc = Escalator(POLICY)
    esc.observe(alert())
    assert run(esc, [4.9]) == []
    assert run(esc, [5]) == [(5, 1, 0)]
    assert run(esc, [14.9, 15, 24.9, 25, 35]) == [(15, 2, 0), (25, 2, 1), (35, 2, 2)]


def test_the_message_says_the_tier_and_how_long_unacknowledged() -> None:
    esc = Escalator(POLICY)
    esc.observe(alert())
    [first] = esc.due(T0 + timedelta(minutes=6), never)
    sent = first.event()
    assert sent.escalation_tier == 1 and first.notify == ("duty",)
    assert sent.message.startswith("escalated to tier 1, unacknowledged for 5 min")
    assert sent.ts == T0 + timedelta(minutes=5)  # the escalation's own event time
    assert first.record()["tier"] == 1


def test_a_jump_of_the_clock_sends_each_tier_once_and_one_repeat() -> None:
    """A backlog replayed after an outage: tier 1 and 2 once each (tier 2 just went out, so
    no repeat on its heels), then the repeats on their grid, not the dozens missed."""
    esc = Escalator(POLICY)
    esc.observe(alert())
    assert run(esc, [120]) == [(5, 1, 0), (15, 2, 0)]
    assert run(esc, [124.9, 125, 135]) == [(125, 2, 1), (135, 2, 2)]


@pytest.mark.parametrize("stop", ["acknowledged", "resolved"])
def test_acknowledgement_or_resolution_stops_it(stop: str) -> None:
    esc = Escalator(POLICY)
    esc.observe(alert())
    assert run(esc, [6]) == [(5, 1, 0)]
    assert esc.observe(alert(stop, at=7)) is True  # it had escalated: the record is cleared
    assert run(esc, [15, 60]) == []
    assert esc.tracked == {}


def test_no_policy_for_the_severity_no_escalation() -> None:
    esc = Escalator(POLICY)
    esc.observe(alert(severity="warning"))
    assert run(esc, [60]) == []
    # raised to critical later: counted from then
    esc.observe(alert(at=30))
    assert run(esc, [34, 35]) == [(35, 1, 0)]


def test_without_repeat_the_last_tier_is_called_once() -> None:
    esc = Escalator({"critical": EscalationPolicy(tiers=[Tier(after_min=5, notify=["d"])])})
    esc.observe(alert())
    assert run(esc, [5, 10, 600]) == [(5, 1, 0)]


def test_restart_from_the_snapshot_carries_on_where_it_was() -> None:
    esc = Escalator(POLICY)
    esc.observe(alert())
    assert run(esc, [16]) == [(5, 1, 0), (15, 2, 0)]
    saved = json.loads(json.dumps(esc.snapshot()))
    again = Escalator(POLICY, saved)
    assert run(again, [20, 25]) == [(25, 2, 1)]  # not tier 1 or 2 again


def test_a_silence_holds_it_and_it_starts_over_when_the_silence_ends() -> None:
    esc = Escalator(POLICY)
    esc.observe(alert())
    silenced = {"on": True}
    assert run(esc, [5, 30], lambda a: silenced["on"]) == []
    silenced["on"] = False
    assert run(esc, [40, 44, 45], lambda a: silenced["on"]) == [(45, 1, 0)]


# -- the notifiers file ------------------------------------------------------------------------

FILE = """\
notifiers:
  - {name: duty, type: webhook, url: "http://127.0.0.1:9/a"}
  - {name: manager, type: webhook, url: "http://127.0.0.1:9/b"}
escalation:
  critical:
    tiers:
      - {after_min: 5, notify: [duty]}
      - {after_min: 15, notify: [manager]}
    repeat_min: 10
"""


def test_the_escalation_policy_loads_from_the_notifiers_file(tmp_path: Path) -> None:
    path = tmp_path / "notifiers.yaml"
    path.write_text(FILE)
    loaded = load_notifiers(path, env={})
    assert loaded.escalation == POLICY


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("notify: [manager]", "notify: [boss]"), "line 8: escalation.critical.tiers[1].notify[0]"),
        (("after_min: 15", "after_min: 5"), "line 8: escalation.critical.tiers[1].after_min"),
        (("critical:", "urgent:"), "escalation.urgent"),
        (("repeat_min: 10", "repeat_min: 0"), "line 9: escalation.critical.repeat_min"),
    ],
)
def test_a_bad_policy_names_the_file_line_and_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    path = tmp_path / "notifiers.yaml"
    path.write_text(FILE.replace(*change))
    with pytest.raises(ConfigError) as err:
        load_notifiers(path, env={})
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_an_escalation_goes_to_its_notifier_even_outside_its_routes(tmp_path: Path) -> None:
    """A notifier that takes only resolved transitions still gets the tier it is named in;
    `only=name` also reaches every URL of a notifier that has several."""

    class Sink:
        type = "webhook"

        def __init__(self, name: str) -> None:
            self.name = name
            self.got: list[AlertEvent] = []

        def send(self, event: AlertEvent) -> None:
            self.got.append(event)

    resolved_only = Route(frozenset({"critical"}), frozenset({"resolved"}))
    a, b, c = Sink("duty[0]"), Sink("duty[1]"), Sink("manager")
    entries = ((a, resolved_only), (b, resolved_only), (c, resolved_only))
    d = Dispatcher(NotifierSet(entries, RetryPolicy()), tmp_path / "n.jsonl")
    esc = Escalator(POLICY)
    esc.observe(alert())
    [tier1] = esc.due(T0 + timedelta(minutes=5), never)
    with d:
        assert d.submit(alert()) == 0  # firing: not their route
        assert d.submit(tier1.event(), only="duty") == 2
    assert [e.escalation_tier for e in a.got + b.got] == [1, 1] and c.got == []
    logged = [json.loads(x) for x in (tmp_path / "n.jsonl").read_text().splitlines()]
    assert {(x["notifier"], x["escalation_tier"]) for x in logged} == {
        ("duty[0]", 1),
        ("duty[1]", 1),
    }
    assert logged[0]["escalated_at"].startswith("2026-07-04T18:05")


# -- silences --------------------------------------------------------------------------------

KNOWN = Known(frozenset({"cold-holding"}), frozenset({"fridge-3"}), frozenset({"coldchain"}))


def silence(**kw: Any) -> Silence:
    args: dict[str, Any] = {
        "rule": None,
        "entity": "fridge-3",
        "family": None,
        "reason": "restocking fridge 3",
        "author": "Sam",
        "starts_at": T0,
        "duration": timedelta(hours=1),
        "now": T0,
        "silence_id": "s-1",
        **kw,
    }
    return build(**args)


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"entity": None}, "at least one of rule, entity, family"),
        ({"reason": "   "}, "reason"),
        ({"author": ""}, "author"),
        ({"reason": "x" * 1001}, "reason: String should have at most 1000 characters"),
        ({"duration": None, "ends_at": T0 - timedelta(minutes=1)}, "is not after starts_at"),
        ({"duration": None}, "either a duration"),
        ({"entity": "fridge-99", "known": KNOWN}, "entity: unknown entity 'fridge-99'"),
        ({"rule": "no-such-rule", "known": KNOWN}, "rule: unknown rule 'no-such-rule'"),
        ({"family": "weather", "known": KNOWN}, "family: unknown family 'weather'"),
        ({"silence_id": "a/b"}, "id: letters, digits"),
    ],
)
def test_bad_silences_are_refused_with_what_is_wrong(kw: dict[str, Any], expected: str) -> None:
    with pytest.raises(SilenceError) as err:
        silence(**kw)
    assert expected in str(err.value)


def test_html_in_a_reason_is_kept_as_text() -> None:
    s = silence(reason="<script>alert(1)</script> swap")
    assert parse(s.model_dump_json().encode()) == s
    assert s.reason == "<script>alert(1)</script> swap"


def test_durations() -> None:
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("90s") == timedelta(seconds=90)
    with pytest.raises(SilenceError):
        parse_duration("2 weeks")


def test_a_silence_matches_on_every_matcher_it_sets_and_only_in_its_window() -> None:
    s = silence(rule="cold-holding", entity="fridge-3", known=KNOWN)
    assert s.matches(alert())
    assert not s.matches(alert().model_copy(update={"subject": "fridge-4"}))
    assert s.in_force(T0) and s.in_force(T0 + timedelta(minutes=59))
    assert not s.in_force(T0 + timedelta(hours=1)) and not s.in_force(T0 - timedelta(seconds=1))
    ended = s.model_copy(update={"expired_at": T0 + timedelta(minutes=10)})
    assert not ended.in_force(T0 + timedelta(minutes=10))


def test_the_book_stamps_transitions_and_releases_them_when_the_silence_ends() -> None:
    book = SilenceBook(KNOWN)
    s = silence()
    assert book.take("s-1", s.model_dump_json().encode(), T0) is True
    assert book.take("s-1", s.model_dump_json().encode(), T0) is False  # retained copy again
    held = book.stamp(alert(at=10))
    assert held.silenced_by == "s-1"
    assert book.stamp(alert(at=61)).silenced_by is None  # after its end
    assert book.ended(T0 + timedelta(minutes=59)) == []
    assert book.ended(T0 + timedelta(minutes=60)) == ["s-1"]
    assert book.ended(T0 + timedelta(minutes=61)) == []  # handled once
    assert book.release(["s-1"]) == [held.alert_id]
    restored = SilenceBook(KNOWN, json.loads(json.dumps(book.snapshot())))
    assert restored.silences == book.silences and restored.ended(T0 + timedelta(hours=2)) == []


def test_the_book_refuses_bad_messages_and_an_empty_one_ends_the_silence() -> None:
    book = SilenceBook(KNOWN)
    assert book.take("s-2", b'{"id": "s-2"}', T0) is False
    assert book.take("s-9", b"<html>", T0) is False
    other = silence(entity="fridge-99", silence_id="s-3")  # unknown to this book
    assert book.take("s-3", other.model_dump_json().encode(), T0) is False
    assert book.refused == 3 and book.silences == {}
    book.take("s-1", silence().model_dump_json().encode(), T0)
    assert book.take("s-1", b"", T0 + timedelta(minutes=5)) is True
    assert book.ended(T0 + timedelta(minutes=5)) == ["s-1"]
