"""The dashboard's login, guarded against guessing: failures counted per address and per user.

Per client address and per user name (each its own record): the first FREE_FAILURES - 1
wrong passwords cost nothing; the FREE_FAILURES-th locks the address and the name out for
FIRST_LOCKOUT_S, and every failure after that doubles the lockout (capped at MAX_LOCKOUT_S).
While either is locked out, no password is checked, the right one included: guessing one
account from many addresses, or many accounts from one address, both stop. A correct password
clears both records; a record idle for RESET_AFTER_S starts again from zero. Every failure is
logged with the address and the name given, never the password.

The address is Streamlit's `st.context.ip_address` (None for a loopback connection, kept
here as "local"). Behind a reverse proxy every client shares the proxy's address, so a
lockout then holds for everyone behind it: the password is what it protects.
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from dashboard.lang import _
from opsroom import redact

FREE_FAILURES = 5
FIRST_LOCKOUT_S = 30.0
MAX_LOCKOUT_S = 900.0
RESET_AFTER_S = 3600.0
MAX_ADDRESSES = 10_000  # oldest records go first: memory stays bounded whatever connects

log = logging.getLogger("opsroom.dashboard.login")


@dataclass
class _Record:
    failures: int = 0
    last_at: float = 0.0
    locked_until: float = 0.0


def _keys(address: str, user: str | None) -> list[str]:
    return [f"address {address}"] + ([f"user {user}"] if user is not None else [])


class LoginGuard:
    """Failed-login bookkeeping per address and per user name (thread-safe: sessions run on
    their own threads)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.first_lockout_s = FIRST_LOCKOUT_S  # OPSROOM_LOGIN_LOCKOUT_S sets it
        self._lock = threading.Lock()
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def _record(self, address: str, now: float) -> _Record:
        rec = self._records.get(address)
        if rec is None or (now - rec.last_at > RESET_AFTER_S and now >= rec.locked_until):
            rec = _Record()
        self._records[address] = rec
        self._records.move_to_end(address)
        while len(self._records) > MAX_ADDRESSES:
            self._records.popitem(last=False)
        return rec

    def locked_for(self, address: str, user: str | None = None) -> float:
        """Seconds until `address` (and `user`) may try again; 0 when they may try now."""
        with self._lock:
            now = self._clock()
            left = [
                r.locked_until - now for k in _keys(address, user) if (r := self._records.get(k))
            ]
            return max([0.0, *left])

    def failed(self, address: str, user: str | None = None) -> float:
        """Count a wrong password from `address` for `user`; the lockout it starts (seconds,
        the longer of the address's and the user's), or 0."""
        counts = []
        lockout = 0.0
        with self._lock:
            now = self._clock()
            for key in _keys(address, user):
                rec = self._record(key, now)
                rec.failures += 1
                rec.last_at = now
                if rec.failures >= FREE_FAILURES:
                    n = rec.failures - FREE_FAILURES
                    first = self.first_lockout_s
                    rec.locked_until = now + min(first * 2**n, max(MAX_LOCKOUT_S, first))
                    lockout = max(lockout, rec.locked_until - now)
                counts.append(rec.failures)
        log.warning(
            "failed dashboard login from %s%s (%d in a row)%s",
            address,
            f" as {user!r}" if user is not None else "",
            max(counts),
            f"; locked out for {lockout:.0f} s" if lockout else "",
        )
        return lockout

    def refused(self, address: str, left: float, user: str | None = None) -> None:
        """Log an attempt made while locked out (its password is not checked)."""
        log.warning(
            "dashboard login from %s%s refused unchecked: locked out for %.0f s more",
            address,
            f" as {user!r}" if user is not None else "",
            left,
        )

    def succeeded(self, address: str, user: str | None = None) -> None:
        """A correct password: forget the address's and the user's failures."""
        with self._lock:
            for key in _keys(address, user):
                self._records.pop(key, None)

    def reset(self) -> None:
        """Forget every address (tests)."""
        with self._lock:
            self._records.clear()


GUARD = LoginGuard()  # one per dashboard process: Streamlit imports this module once


def client_address(ip: object) -> str:
    """The key of a client's record: its IP address, or "local" (loopback, or not known)."""
    return ip if isinstance(ip, str) and ip else "local"


def lockout_text(left: float) -> str:
    """What a locked-out person reads."""
    return _(
        "Too many failed logins for this account or from this address: try again in "
        "{seconds} s. Passwords are not checked until then.",
        seconds=math.ceil(left),
    )


def ensure_log_handler() -> None:
    """Streamlit configures only its own loggers: give ours a handler on stderr, masked."""
    root = logging.getLogger("opsroom")
    if root.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    redact.install(handler, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
