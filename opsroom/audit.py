"""The audit trail's record: who did what, when and from where, appended to the store, never
edited (a correction is a new entry).

Actions are an open set of short snake_case words, so that each new kind of change (assign,
log, silence, plan_step, ...) records itself without an edit here; the ones in use are
listed in `ACTIONS`. Every text has a bounded size and names carry no control character or
backslash (both stores keep them as keys: an InfluxDB tag cannot hold one faithfully); a name
typed by someone not yet trusted (a failed login) goes through `untrusted_name` first.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from opsroom.telemetry.base import Timestamp

ACTIONS: Final = ("login_ok", "login_failed", "login_locked", "logout", "ack")
MAX_USER: Final = 100
MAX_TARGET: Final = 200
MAX_DETAIL: Final = 2000
MAX_ADDRESS: Final = 100
_WORD = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")  # control characters (newlines too) and backslash


def _valid_unicode(value: str) -> str:
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode (a lone surrogate)") from None
    return value


def _name(value: str) -> str:
    _valid_unicode(value)
    if _UNSAFE.search(value):
        raise ValueError("contains a control character or a backslash")
    if not value.strip():
        raise ValueError("is blank")
    return value


def _word(value: str) -> str:
    if not _WORD.match(value):
        raise ValueError("must be a lower-case word of a-z, 0-9 and _ (at most 40)")
    return value


def _text(value: str) -> str:
    _valid_unicode(value)
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


Name = Annotated[str, AfterValidator(_name)]
Word = Annotated[str, AfterValidator(_word)]


class AuditEntry(BaseModel):
    """One thing a person (or a service on their behalf) did: (ts, user, action, target)
    identifies it, so writing it again is a no-op."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ts: Timestamp = Field(description="wall clock when it happened")
    user: Name = Field(max_length=MAX_USER, description="who (the name given, for a failure)")
    role: Word | None = Field(None, description="their role then: viewer, operator, admin")
    action: Word = Field(description="login_ok, login_failed, login_locked, logout, ack, ...")
    target: Annotated[str, AfterValidator(lambda v: _name(v) if v else v)] = Field(
        "", max_length=MAX_TARGET, description="what it was done to (an alert id), or empty"
    )
    detail: Annotated[str, AfterValidator(_text)] = Field(
        "", max_length=MAX_DETAIL, description="a note, a reason"
    )
    address: Name | None = Field(None, max_length=MAX_ADDRESS, description="client address")


def recordable_text(text: str, limit: int = MAX_DETAIL) -> str:
    """Free text someone sent (a note), made recordable: NUL removed, a lone surrogate shown
    as U+FFFD, cut to `limit` characters."""
    kept = (c if not 0xD800 <= ord(c) <= 0xDFFF else "\ufffd" for c in text if c != "\x00")
    return "".join(kept)[:limit]


def untrusted_name(text: str, limit: int = MAX_USER) -> str:
    """A name someone typed, made recordable: each control character, backslash or other
    unprintable character shown as `<U+XXXX>`, cut to `limit` characters, `?` if blank."""
    shown = "".join(
        c if c == " " or (c.isprintable() and c != "\\") else f"<U+{ord(c):04X}>" for c in text
    )
    shown = shown[:limit]
    return shown if shown.strip() else "?"
