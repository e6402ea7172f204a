"""Take credentials out of text meant for people: error messages, log lines, notification logs.

Three kinds of secret are masked with `***`:
- the password in a URL's user-info (`mqtt://ops:***@host`) and every query value
  (`?token=***`), in any URL found in the text, parsed or not;
- known secret values: those registered by the code that reads them (settings, the notifiers'
  `${NAME}` substitutions) and the values of environment variables whose names say they are
  secret (`*PASSWORD*`, `*TOKEN*`, `*SECRET*`, ...), also in their URL-encoded form;
- values passed to `redact` for one call.

Every place that formats an error or a log line for a person goes through `redact`; the
`opsroom` command also installs `RedactingFormatter` on its log handler, so a library's log
line (apprise, paho, urllib3) is masked too.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import quote

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values ("1", "yes") would mask ordinary words
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|API_?KEY|PRIVATE_KEY|CREDENTIAL", re.I)
# scheme://[userinfo@]rest, up to whitespace or a quote; a bad port or host does not matter
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<rest>[^\s'\"<>`]+)")
_USERINFO = re.compile(r"^(?P<user>[^/?#@:]*):(?P<password>[^/?#]*)@")
_QUERY_VALUE = re.compile(r"(?P<key>[?&;][^=&#;\s]*=)(?P<value>[^&#;\s]*)")

_lock = threading.Lock()
_registered: set[str] = set()


def register(*values: str | None) -> None:
    """Remember secret values for every later `redact` in this process (short ones ignored)."""
    with _lock:
        _registered.update(v for v in values if v and len(v) >= MIN_SECRET_LENGTH)


def env_secrets(env: Mapping[str, str] | None = None) -> set[str]:
    """Values of environment variables whose names say they hold a secret."""
    env = os.environ if env is None else env
    return {
        value
        for name, value in env.items()
        if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LENGTH
    }


def redact_url(url: str) -> str:
    """`url` with the user-info password and every query value masked."""
    scheme, _, rest = url.partition("://")
    rest = _USERINFO.sub(lambda m: f"{m['user']}:{MASK}@", rest, count=1)
    return f"{scheme}://" + _QUERY_VALUE.sub(lambda m: f"{m['key']}{MASK}", rest)


def redact(text: str, extra: Iterable[str | None] = ()) -> str:
    """`text` without credentials: URL passwords and query values, known secret values."""
    if not text:
        return text
    with _lock:
        known = set(_registered)
    known |= env_secrets()
    known |= {v for v in extra if v and len(v) >= MIN_SECRET_LENGTH}
    # as given, trimmed (a stray newline), escaped as repr() shows it, URL-encoded
    known |= {v.strip() for v in known if len(v.strip()) >= MIN_SECRET_LENGTH}
    known |= {repr(v)[1:-1] for v in known}
    forms = known | {quote(v, safe="") for v in known} | {quote(v) for v in known}
    for value in sorted(forms, key=len, reverse=True):  # longest first: no half-masked secret
        text = text.replace(value, MASK)
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


class RedactingFormatter(logging.Formatter):
    """A log formatter whose output (message and traceback) goes through `redact`."""

    def format(self, record: logging.LogRecord) -> str:
        """The formatted record, credentials masked."""
        return redact(super().format(record))


def install(handler: logging.Handler, fmt: str | None = None) -> None:
    """Give `handler` a RedactingFormatter (keeping its format string)."""
    old = handler.formatter
    handler.setFormatter(RedactingFormatter(fmt or (old._fmt if old is not None else None)))
