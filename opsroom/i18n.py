"""Languages: every word a person reads, in English or Chinese (zh-CN), from gettext catalogs.

Messages are written in English in the code, marked with `_()` (or `ngettext()` when they
depend on a count), with named placeholders filled after translation:

    from opsroom.i18n import _, ngettext
    print(_("{path}: OK: {count} rules", path=path, count=n))

The Chinese catalog is `opsroom/locale/zh_CN/LC_MESSAGES/opsroom.po` (standard gettext, edited
with any PO editor; Babel reads it). English needs no catalog: the message id is the text.
tests/test_i18n.py extracts every marked message from the source and fails on one missing
from the catalog, an empty translation, or placeholders that differ between the two.

The locale is `OPSROOM_LOCALE` (`en` or `zh-CN`) for the process; the dashboard chooses per
session (`translator(locale)`). Numbers and times follow the locale through Babel, and times
are shown in the event's time zone.
"""

from __future__ import annotations

import os
import string
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any, Literal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime as _babel_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LocaleName = Literal["en", "zh-CN"]
LOCALES: tuple[LocaleName, ...] = ("en", "zh-CN")
DEFAULT: LocaleName = "en"
DOMAIN = "opsroom"

_current: ContextVar[LocaleName | None] = ContextVar("opsroom_locale", default=None)


def babel_name(locale: str) -> str:
    """`zh-CN` -> `zh_CN` (the catalog folder and Babel's name)."""
    return locale.replace("-", "_")


def check_locale(value: str) -> LocaleName:
    """A supported locale name, or ValueError naming the supported ones."""
    for name in LOCALES:
        if value.replace("_", "-").lower() == name.lower():
            return name
    raise ValueError(f"locale {value!r} is not supported: choose one of {', '.join(LOCALES)}")


@cache
def catalog(locale: str) -> Mapping[str, str | tuple[str, ...]]:
    """msgid (or (singular, plural)) -> translation, for one locale; empty for English."""
    if locale == "en":
        return {}
    path = files("opsroom").joinpath("locale", babel_name(locale), "LC_MESSAGES", f"{DOMAIN}.po")
    with path.open("rb") as fh:
        po = read_po(fh, locale=babel_name(locale))
    out: dict[str, str | tuple[str, ...]] = {}
    for message in po:
        if not message.id or message.fuzzy:
            continue
        key = message.id[0] if isinstance(message.id, tuple | list) else message.id
        if isinstance(message.string, tuple | list):
            if all(message.string):
                out[key] = tuple(message.string)
        elif message.string:
            out[key] = message.string
    return out


def current() -> LocaleName:
    """The locale in force: set by `use()`, else OPSROOM_LOCALE, else English."""
    chosen = _current.get()
    if chosen is not None:
        return chosen
    env = os.environ.get("OPSROOM_LOCALE")
    if env:
        try:
            return check_locale(env)
        except ValueError:
            return DEFAULT
    return DEFAULT


def use(locale: str) -> None:
    """Set the locale of this thread or task (the CLI calls it once, from settings)."""
    _current.set(check_locale(locale))


@contextmanager
def using(locale: str) -> Iterator[None]:
    """Speak `locale` inside the block (a report written in another language, tests)."""
    token = _current.set(check_locale(locale))
    try:
        yield
    finally:
        _current.reset(token)


def _fill(text: str, values: Mapping[str, Any]) -> str:
    return text.format(**values) if values else text


class Translator:
    """The messages of one locale: `t("...")`, `t.ngettext(...)`, numbers and times."""

    def __init__(self, locale: str) -> None:
        self.locale: LocaleName = check_locale(locale)
        self._catalog = catalog(self.locale)

    def __call__(self, message: str, /, **values: Any) -> str:
        found = self._catalog.get(message)
        text = found if isinstance(found, str) else message
        return _fill(text, values)

    def ngettext(self, singular: str, plural: str, n: int, /, **values: Any) -> str:
        """The form for count `n` (`n` is also a placeholder: {n})."""
        found = self._catalog.get(singular)
        if isinstance(found, tuple):  # Chinese has one form; two-form locales: one, other
            text = found[0] if len(found) == 1 or n == 1 else found[1]
        else:
            text = singular if n == 1 else plural
        return _fill(text, {"n": n, **values})

    def number(self, value: float, digits: int = 1) -> str:
        """A number as the locale writes it, with at most `digits` decimals."""
        pattern = "#,##0" + ("." + "#" * digits if digits > 0 else "")
        return format_decimal(value, format=pattern, locale=babel_name(self.locale))

    def time(self, ts: datetime, timezone: str = "UTC", seconds: bool = True) -> str:
        """A time of day in the event's time zone, as the locale writes it."""
        fmt = "HH:mm:ss" if seconds else "HH:mm"
        return _babel_datetime(ts, fmt, tzinfo=ZoneInfo(timezone), locale=babel_name(self.locale))

    def datetime(self, ts: datetime, timezone: str = "UTC") -> str:
        """A date and time in the event's time zone (medium length, the locale's order)."""
        return _babel_datetime(
            ts, "medium", tzinfo=ZoneInfo(timezone), locale=babel_name(self.locale)
        )


@cache
def translator(locale: str) -> Translator:
    """The Translator of `locale` (cached: catalogs are read once)."""
    return Translator(locale)


def _(message: str, /, **values: Any) -> str:
    """`message` in the current locale, its {placeholders} filled from `values`."""
    return translator(current())(message, **values)


def ngettext(singular: str, plural: str, n: int, /, **values: Any) -> str:
    """The singular or plural message for `n`, in the current locale."""
    return translator(current()).ngettext(singular, plural, n, **values)


def N_(message: str) -> str:  # the gettext convention
    """Mark a message for the catalog without translating it yet (module-level constants)."""
    return message


def placeholders(text: str) -> set[str]:
    """The {names} a message uses (the catalog test compares them across languages)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def display_name(item: Any, locale: str | None = None) -> str:
    """The name people read of a venue entity, rule or plan: its `name_zh` in Chinese when it
    gives one, else its `name`, else its id."""
    if (locale or current()) == "zh-CN":
        zh = getattr(item, "name_zh", None)
        if zh:
            return str(zh)
    return str(getattr(item, "name", "") or getattr(item, "id", ""))
