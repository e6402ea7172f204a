"""Named users and roles: the users file (YAML, argon2id hashes), and who may do what.

The file (OPSROOM_USERS_FILE) lists accounts:

    users:
      - name: sam
        role: operator           # viewer | operator | admin
        password_hash: $argon2id$v=19$m=65536,t=3,p=4$...
        disabled: false          # optional; a disabled account cannot log in
        locale: zh-CN            # optional; the dashboard's language for them (en | zh-CN)

It is loaded through configfile, so a mistake (an unknown role, a missing hash, a name given
twice) stops start-up naming the file, the line and the field. Passwords are never stored:
`opsroom users add|passwd` hash them with argon2id and rewrite the file atomically.
Without a users file, OPSROOM_DASHBOARD_PASSWORD alone means one admin account, "admin".
"""

from __future__ import annotations

import hmac
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import Field, field_validator, model_validator

from opsroom.configfile import ConfigError, FieldError, Strict, load_model
from opsroom.i18n import check_locale

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
# what each role may do; a view asks `can(action)`, never compares role names itself
PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset(),
    # ack: acknowledge alerts; log: write the control log (entries, incidents, assignments,
    # decisions); silence: silence alerts for planned work; plan: tick contingency-plan steps
    "operator": frozenset({"ack", "log", "silence", "plan"}),
    "admin": frozenset({"ack", "log", "silence", "plan", "manage_users"}),
}
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
MAX_NAME = 64
MIN_PASSWORD_LENGTH = 12
ENV_ADMIN = "admin"  # the one account that OPSROOM_DASHBOARD_PASSWORD alone stands for

_hasher = PasswordHasher()  # argon2id, the library's current recommended parameters


@dataclass(frozen=True)
class User:
    """A logged-in person (or the wall screen): name and role."""

    name: str
    role: Role
    kiosk: bool = False
    locale: str | None = None  # the language the dashboard speaks to them (users file)

    def can(self, action: str) -> bool:
        """May this user do `action` ("ack", "manage_users", ...)?"""
        return action in PERMISSIONS[self.role]


class UserEntry(Strict):
    """One account in the users file."""

    name: str = Field(pattern=NAME_PATTERN)
    role: Role
    password_hash: str
    disabled: bool = False
    locale: str | None = None  # en | zh-CN: the dashboard's language for this user

    @field_validator("locale")
    @classmethod
    def _locale(cls, v: str | None) -> str | None:
        return None if v is None else check_locale(v)

    @field_validator("password_hash")
    @classmethod
    def _argon2(cls, v: str) -> str:
        if not v.startswith("$argon2id$"):
            raise ValueError(
                "must be an argon2id hash ($argon2id$...); set it with `opsroom users passwd`"
            )
        return v


class UsersFile(Strict):
    """The whole users file."""

    users: list[UserEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> UsersFile:
        seen: set[str] = set()
        for i, u in enumerate(self.users):
            if u.name in seen:
                raise FieldError(("users", i, "name"), f"user {u.name!r} is listed twice")
            seen.add(u.name)
        return self

    def get(self, name: str) -> UserEntry | None:
        """The account called `name`, or None."""
        return next((u for u in self.users if u.name == name), None)

    def replace(self, entry: UserEntry) -> UsersFile:
        """A copy with `entry` added, or in place of the account of the same name."""
        users = [entry if u.name == entry.name else u for u in self.users]
        if self.get(entry.name) is None:
            users.append(entry)
        return UsersFile(users=users)


def load_users(path: str | Path) -> UsersFile:
    """Read and validate a users file; ConfigError names file, line and field. A file that
    does not exist yet is an empty list (so `opsroom users add` can start one)."""
    if not Path(path).exists():
        return UsersFile()
    if Path(path).read_text(encoding="utf-8").strip() == "":
        return UsersFile()
    return load_model(UsersFile, path)


def dump_users(users: UsersFile) -> str:
    """The users file's YAML text (hashes quoted: they hold '$' and ',')."""
    lines = ["# Opsroom users: manage with `opsroom users add|passwd|disable|list`", "users:"]
    if not users.users:
        lines[-1] = "users: []"
    for u in users.users:
        lines += [
            f"  - name: {u.name}",
            f"    role: {u.role}",
            f"    password_hash: '{u.password_hash}'",
            f"    disabled: {'true' if u.disabled else 'false'}",
        ]
        if u.locale is not None:
            lines.append(f"    locale: {u.locale}")
    return "\n".join(lines) + "\n"


def save_users(path: str | Path, users: UsersFile) -> None:
    """Write the users file atomically (a temporary file renamed over it), readable by the
    owner only: a crash never leaves half a file, and hashes are not world-readable."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(dump_users(users))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_password_strength(password: str) -> None:
    """ValueError when a new password is too short (the length only: no echo of it)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(
            f"the password must be at least {MIN_PASSWORD_LENGTH} characters long "
            f"(it has {len(password)})"
        )


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (salted; encodes its own parameters)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Does `password` match the hash? (argon2's check; never raises on a mismatch)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """A hash to check against when the name is unknown, so that an unknown name costs the
    same time as a wrong password and timing does not tell which names exist."""
    return hash_password(os.urandom(16).hex())


AuthOutcome = Literal["ok", "wrong", "disabled"]


@dataclass(frozen=True)
class Directory:
    """The accounts the dashboard checks logins against: a users file, or the one admin
    account of OPSROOM_DASHBOARD_PASSWORD."""

    users: UsersFile | None = None
    env_password: str | None = None

    def authenticate(self, name: str, password: str) -> tuple[AuthOutcome, User | None]:
        """Check a login. Always does one argon2 verification, whatever the name, so a
        wrong name and a wrong password take the same time. A disabled account says so only
        when its password is right (a guesser learns nothing from it)."""
        name = name.strip()[:MAX_NAME]
        if self.users is None:
            _ = verify_password(_dummy_hash(), password)  # the same cost as a users-file check
            given = password.encode()
            ok = hmac.compare_digest(given, (self.env_password or "").encode())
            same_name = hmac.compare_digest(name.encode(), ENV_ADMIN.encode())
            ok = ok and same_name and self.env_password is not None
            return ("ok", User(ENV_ADMIN, "admin")) if ok else ("wrong", None)
        entry = self.users.get(name)
        if entry is None:
            verify_password(_dummy_hash(), password)
            return "wrong", None
        if not verify_password(entry.password_hash, password):
            return "wrong", None
        if entry.disabled:
            return "disabled", None
        return "ok", User(entry.name, entry.role, locale=entry.locale)

    def names(self) -> Sequence[str]:
        """Every account's name."""
        return [u.name for u in self.users.users] if self.users else [ENV_ADMIN]


def directory(users_file: Path | None, env_password: str | None) -> Directory:
    """The accounts to log in against: the users file when set (ConfigError if it is bad or
    holds no account), else the admin account of OPSROOM_DASHBOARD_PASSWORD."""
    if users_file is None:
        return Directory(None, env_password)
    if not Path(users_file).exists():
        raise ConfigError(str(users_file), ["cannot read file: No such file or directory"])
    users = load_users(users_file)
    if not users.users:
        raise ConfigError(str(users_file), ["users: no account; add one with `opsroom users add`"])
    return Directory(users, None)


def valid_name(name: str) -> bool:
    """Is `name` acceptable as an account name?"""
    return re.fullmatch(NAME_PATTERN, name) is not None
