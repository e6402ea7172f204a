"""Names per language: `name_zh` on venue entities, rules and plans; a user's own language."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsroom.configfile import ConfigError
from opsroom.i18n import display_name, using
from opsroom.plans import load_plans
from opsroom.rulesfile.model import load_rules
from opsroom.users import Directory, dump_users, hash_password, load_users
from opsroom.venue import load_venue

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_the_examples_name_things_in_chinese_where_they_give_it() -> None:
    venue = load_venue(EXAMPLES / "venue.yaml")
    arena = venue.zones[0]
    assert display_name(arena, "zh-CN") == "主舞台区"
    assert display_name(arena, "en") == "Main Arena"
    assert display_name(venue.event, "zh-CN") == "河畔音乐节"
    unnamed = next(u for u in venue.catering if u.name_zh is None)
    assert display_name(unnamed, "zh-CN") == unnamed.name  # no name_zh: the name
    rules = load_rules(EXAMPLES / "rules.yaml", venue)
    cold = next(r for r in rules.rules if r.id == "cold-holding")
    with using("zh-CN"):
        assert cold.label == "冷藏温度"
    with using("en"):
        assert cold.label == "Cold holding"
    plans = load_plans(EXAMPLES / "plans.yaml")
    assert display_name(plans.plans[0], "zh-CN") == "冷藏食品高于 8 °C"


def test_an_empty_chinese_name_is_refused_naming_the_field(tmp_path: Path) -> None:
    text = (EXAMPLES / "venue.yaml").read_text().replace("name_zh: 主舞台区", "name_zh: ''")
    path = tmp_path / "venue.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_venue(path)
    assert "zones[0].name_zh" in str(err.value) or "zones.0.name_zh" in str(err.value)


def test_a_user_may_choose_their_language_in_the_users_file(tmp_path: Path) -> None:
    h = hash_password("correct horse battery")
    path = tmp_path / "users.yaml"
    path.write_text(
        "users:\n"
        f"  - {{name: li, role: operator, password_hash: '{h}', locale: zh_CN}}\n"
        f"  - {{name: sam, role: viewer, password_hash: '{h}'}}\n"
    )
    users = load_users(path)
    assert [u.locale for u in users.users] == ["zh-CN", None]
    outcome, user = Directory(users).authenticate("li", "correct horse battery")
    assert outcome == "ok" and user is not None and user.locale == "zh-CN"
    assert "locale: zh-CN" in dump_users(users)  # a rewrite of the file keeps it
    path.write_text(path.read_text().replace("zh_CN", "fr"))
    with pytest.raises(ConfigError, match=r"locale 'fr' is not supported"):
        load_users(path)
