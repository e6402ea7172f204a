"""Alert and notification messages in the rules service's language (OPSROOM_LOCALE)."""

from __future__ import annotations

from opsroom.alerts import AlertEvent
from opsroom.i18n import using
from rules.escalation import Escalation
from rules.notify import Route, describe
from tests.rules.engine_helpers import at, engine, feed, reading

COLD = """
rules:
  - id: cold
    name: Cold holding
    name_zh: 冷藏温度
    kind: threshold
    applies_to: fridge
    value: temp_c
    hold: 15m
    levels:
      - {severity: warning, above: 5, clear: 4.5}
  - id: silent
    kind: no_data
    applies_to: fridge
    intervals: 3
"""


def warm_fridge(minutes: int) -> list:
    return [reading("coldchain", "f1", m * 60.0, temp_c=6.5) for m in range(minutes + 1)]


def test_a_threshold_alert_reads_in_chinese_with_the_rules_chinese_name() -> None:
    with using("zh-CN"):
        eng = engine(COLD)
        events = feed(eng, warm_fridge(16))
        silent = eng.tick(at(16 * 60 + 600))
    pending, firing = events[0], events[1]
    assert pending.message == "冷藏温度：6.5 °C，高于 5（若持续 15 分钟 则触发）"
    assert firing.state == "firing"
    assert firing.message == "冷藏温度：6.5 °C，高于 5，持续 15 分钟"
    assert silent[0].message == "silent：此冷藏柜已 3 分钟 无读数"


def test_the_same_alert_reads_in_english_by_default() -> None:
    with using("en"):
        events = feed(engine(COLD), warm_fridge(16))
    assert events[1].message == "Cold holding: 6.5 °C, above 5 for 15 min"


def test_a_notification_reads_in_chinese() -> None:
    with using("zh-CN"):
        firing = feed(engine(COLD), warm_fridge(16))[1]
        title, body = describe(firing.model_copy(update={"drill": True}))
    assert title == "【演练】警告 触发中：f1 的 cold"
    assert "冷藏温度：6.5 °C" in body and "告警：" in body and "时间：" in body


def test_cleared_before_firing_is_recognised_in_either_language() -> None:
    with using("zh-CN"):
        eng = engine(COLD)
        events = feed(eng, [reading("coldchain", "f1", 0, temp_c=6.5)])
        events += feed(eng, [reading("coldchain", "f1", 60, temp_c=4.0)])
    resolved: AlertEvent = events[-1]
    assert resolved.state == "resolved" and resolved.message.startswith("触发前已解除")
    # a notifier told only of pending alerts still hears that this one cleared
    route = Route(frozenset({"warning"}), frozenset({"pending"}))
    assert route.accepts(resolved)


def test_an_escalation_reads_in_chinese() -> None:
    with using("zh-CN"):
        firing = feed(engine(COLD), warm_fridge(16))[1]
        call = Escalation(firing, 2, 1, firing.ts, 20.0, ("duty-manager",))
        assert call.message == (
            "已升级到第 2 级（第 1 次重复），20 分钟未确认：冷藏温度：6.5 °C，高于 5，持续 15 分钟"
        )
