"""Languages: every marked message has its Chinese translation, with the same placeholders."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from opsroom.i18n import LOCALES, catalog, placeholders, translator

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
PACKAGES = ("opsroom", "ingest", "rules", "dashboard", "simulators")


def marked_messages() -> dict[str, tuple[str, ...]]:
    """Every message the code marks for translation: msgid -> (singular[, plural])."""
    out: dict[str, tuple[str, ...]] = {}
    for package in PACKAGES:
        found = extract_from_dir(
            str(ROOT / package),
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
            comment_tags=(),
        )
        for _file, _line, message, _comments, _context in found:
            forms = message if isinstance(message, tuple) else (message,)
            out[forms[0]] = forms
    return out


def test_every_message_has_a_chinese_translation_with_the_same_placeholders() -> None:
    messages = marked_messages()
    assert len(messages) > 10  # the extraction itself works
    zh = catalog("zh-CN")
    missing = sorted(m for m in messages if m not in zh)
    assert not missing, f"untranslated (run tools/i18n-update, then translate): {missing}"
    for msgid, forms in messages.items():
        translated = zh[msgid]
        texts = translated if isinstance(translated, tuple) else (translated,)
        expected = set().union(*(placeholders(f) for f in forms))
        if len(forms) == 2:
            expected |= {"n"}
        for text in texts:
            assert text.strip(), f"empty translation of {msgid!r}"
            assert placeholders(text) == expected, (msgid, text)


def test_no_catalog_entry_is_left_without_its_message() -> None:
    # an entry whose message left the code is dead weight a translator would still maintain
    stale = sorted(set(catalog("zh-CN")) - set(marked_messages()))
    assert not stale, f"run tools/i18n-update: {stale}"


def test_numbers_and_times_follow_the_locale_and_the_event_time_zone() -> None:
    ts = datetime(2027, 7, 4, 18, 30, 5, tzinfo=UTC)
    en, zh = translator("en"), translator("zh-CN")
    assert en.time(ts, "Europe/London") == "19:30:05"  # BST
    assert zh.time(ts, "Asia/Shanghai", seconds=False) == "02:30"
    assert en.number(12345.678) == "12,345.7"
    assert zh.number(12345.678, 0) == "12,346"
    assert "2027" in zh.datetime(ts, "Asia/Shanghai") and "年" in zh.datetime(ts, "Asia/Shanghai")
    assert zh.ngettext(", {n} warning", ", {n} warnings", 3) == "，3 条警告"
    assert en.ngettext(", {n} warning", ", {n} warnings", 1) == ", 1 warning"
    assert set(LOCALES) == {"en", "zh-CN"}


def check_config(locale: str) -> subprocess.CompletedProcess[str]:
    examples = ROOT / "examples"
    return subprocess.run(
        [sys.executable, "-m", "opsroom", "check-config", str(examples / "venue.yaml"),
         "--rules", str(examples / "rules.yaml"), "--plans", str(examples / "plans.yaml")],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "OPSROOM_LOCALE": locale},
    )  # fmt: skip


def test_the_cli_speaks_chinese_when_asked() -> None:
    zh = check_config("zh-CN")
    assert zh.returncode == 0, zh.stderr
    assert "venue.yaml：通过：Riverside Festival" in zh.stdout
    assert "16 个预案" in zh.stdout
    en = check_config("en")
    assert "venue.yaml: OK: Riverside Festival" in en.stdout


def test_an_unknown_locale_is_refused_by_name() -> None:
    done = check_config("fr")
    assert done.returncode == 2
    assert "OPSROOM_LOCALE: locale 'fr' is not supported: choose one of en, zh-CN" in done.stderr


@pytest.mark.parametrize("locale", ["zh_CN", "ZH-cn"])
def test_locale_spellings_are_accepted(locale: str) -> None:
    assert translator("zh-CN")("OK") == "通过"
    assert check_config(locale).returncode == 0
