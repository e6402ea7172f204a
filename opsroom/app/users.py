"""`opsroom users add|passwd|disable|enable|list`: manage the users file.

Passwords are read from a prompt (twice, not echoed) or, when stdin is not a terminal, from
its first line; never from the command line, where `ps` and shell history would keep them.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from opsroom.settings import Settings
from opsroom.users import (
    ROLES,
    UserEntry,
    UsersFile,
    check_password_strength,
    hash_password,
    load_users,
    save_users,
    valid_name,
)

if TYPE_CHECKING:
    Sub = argparse._SubParsersAction[argparse.ArgumentParser]


class UsageError(ValueError):
    """A users command cannot do what was asked; the message says why."""


def _file(args: argparse.Namespace) -> Path:
    if args.file is not None:
        return Path(args.file)
    path = Settings.load().users_file
    if path is None:
        raise UsageError("no users file: pass --file FILE or set OPSROOM_USERS_FILE")
    return path


def read_password(name: str) -> str:
    """A new password from the prompt (asked twice) or from stdin's first line."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"New password for {name}: ")
        if getpass.getpass("Again: ") != first:
            raise UsageError("the two passwords differ")
        password = first
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        check_password_strength(password)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return password


def _existing(users: UsersFile, name: str, path: Path) -> UserEntry:
    entry = users.get(name)
    if entry is None:
        raise UsageError(f"{path}: no user {name!r}")
    return entry


def cmd_users(args: argparse.Namespace) -> int:
    """Add a user, change a password, disable or enable an account, or list the accounts."""
    try:
        path = _file(args)
        users = load_users(path)  # ConfigError (file, line, field) goes up to main
        if args.action == "list":
            if not users.users:
                print(f"{path}: no users")
            for u in users.users:
                print(f"{u.name:<24} {u.role:<9} {'disabled' if u.disabled else 'active'}")
            return 0
        name = args.name
        if args.action == "add":
            if not valid_name(name):
                raise UsageError(
                    f"invalid user name {name!r}: letters, digits, '.', '_', '@', '-' "
                    "(at most 64, starting with a letter or digit)"
                )
            if users.get(name) is not None:
                raise UsageError(f"{path}: user {name!r} exists; use `opsroom users passwd`")
            entry = UserEntry(name=name, role=args.role, password_hash=hash_password(
                read_password(name)
            ))  # fmt: skip
            done = f"added {name} ({args.role})"
        elif args.action == "passwd":
            old = _existing(users, name, path)
            entry = old.model_copy(update={"password_hash": hash_password(read_password(name))})
            done = f"password of {name} changed"
        else:
            old = _existing(users, name, path)
            entry = old.model_copy(update={"disabled": args.action == "disable"})
            done = f"{name} {args.action}d"
        save_users(path, users.replace(entry))
    except UsageError as exc:
        print(f"opsroom users: {exc}", file=sys.stderr)
        return 2
    print(f"{path}: {done}")
    return 0


def register(sub: Sub) -> None:
    """Add `opsroom users ACTION`."""
    p = sub.add_parser(
        "users",
        help="manage dashboard users: add, passwd, disable, enable, list",
        description=cmd_users.__doc__,
    )
    p.add_argument("--file", type=Path, help="users file (default: OPSROOM_USERS_FILE)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a user (password from the prompt or stdin)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    for action, what in (
        ("passwd", "set a user's password (from the prompt or stdin)"),
        ("disable", "disable an account (it can no longer log in)"),
        ("enable", "enable a disabled account again"),
    ):
        actions.add_parser(action, help=what).add_argument("name")
    actions.add_parser("list", help="list the accounts (name, role, active or disabled)")
    p.set_defaults(handler=cmd_users)
