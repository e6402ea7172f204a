"""The login guard alone, on a pinned clock: free failures, a doubling lockout, the cap."""

from __future__ import annotations

from dashboard.login import (
    FIRST_LOCKOUT_S,
    FREE_FAILURES,
    MAX_ADDRESSES,
    MAX_LOCKOUT_S,
    RESET_AFTER_S,
    LoginGuard,
    client_address,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lockout_starts_at_the_fifth_failure_and_doubles_up_to_the_cap() -> None:
    clock = Clock()
    guard = LoginGuard(clock)
    assert [guard.failed("10.0.0.7") for _ in range(FREE_FAILURES - 1)] == [0.0] * 4
    lockouts = []
    for _ in range(8):
        lockouts.append(guard.failed("10.0.0.7"))
        clock.now += lockouts[-1]  # waited it out, then tried again
    assert lockouts[:4] == [FIRST_LOCKOUT_S, 2 * FIRST_LOCKOUT_S, 4 * FIRST_LOCKOUT_S, 240.0]
    assert max(lockouts) == MAX_LOCKOUT_S


def test_lockout_is_per_address_and_a_success_clears_it() -> None:
    clock = Clock()
    guard = LoginGuard(clock)
    for _ in range(FREE_FAILURES):
        guard.failed("10.0.0.7")
    assert guard.locked_for("10.0.0.7") == FIRST_LOCKOUT_S
    assert guard.locked_for("10.0.0.8") == 0
    clock.now += 10
    assert guard.locked_for("10.0.0.7") == FIRST_LOCKOUT_S - 10
    clock.now += FIRST_LOCKOUT_S
    guard.succeeded("10.0.0.7")
    assert guard.failed("10.0.0.7") == 0.0  # counting from zero again


def test_old_failures_are_forgotten_and_memory_is_bounded() -> None:
    clock = Clock()
    guard = LoginGuard(clock)
    for _ in range(FREE_FAILURES - 1):
        guard.failed("10.0.0.7")
    clock.now += RESET_AFTER_S + 1
    assert guard.failed("10.0.0.7") == 0.0
    for i in range(MAX_ADDRESSES + 10):
        guard.failed(f"addr-{i}")
    assert len(guard._records) == MAX_ADDRESSES


def test_client_address_falls_back_to_local() -> None:
    assert client_address("192.0.2.4") == "192.0.2.4"
    assert client_address(None) == "local" and client_address(object()) == "local"


def test_one_account_guessed_from_many_addresses_is_locked() -> None:
    clock = Clock()
    guard = LoginGuard(clock)
    for i in range(FREE_FAILURES - 1):
        assert guard.failed(f"10.0.0.{i}", "sam") == 0.0
    assert guard.failed("10.0.0.99", "sam") == FIRST_LOCKOUT_S  # a fresh address, same name
    assert guard.locked_for("10.0.0.100", "sam") == FIRST_LOCKOUT_S  # the account is locked
    assert guard.locked_for("10.0.0.100", "kim") == 0  # others are not
    clock.now += FIRST_LOCKOUT_S
    assert guard.failed("10.0.0.101", "sam") == 2 * FIRST_LOCKOUT_S  # doubling


def test_many_accounts_guessed_from_one_address_lock_the_address() -> None:
    clock = Clock()
    guard = LoginGuard(clock)
    for i in range(FREE_FAILURES):
        guard.failed("10.0.0.7", f"user-{i}")
    assert guard.locked_for("10.0.0.7", "someone-else") == FIRST_LOCKOUT_S
    assert guard.locked_for("10.0.0.8", "user-0") == 0  # one failure each: not locked


def test_a_success_clears_the_user_and_the_address() -> None:
    clock = Clock()
    guard = LoginGuard(clock)
    for _ in range(FREE_FAILURES - 1):
        guard.failed("10.0.0.7", "sam")
    guard.succeeded("10.0.0.7", "sam")
    assert guard.failed("10.0.0.7", "sam") == 0.0
    assert guard.failed("10.0.0.8", "sam") == 0.0


def test_the_log_names_address_and_user_never_the_password(caplog) -> None:
    caplog.set_level("WARNING", logger="opsroom.dashboard.login")
    guard = LoginGuard(Clock())
    for _ in range(FREE_FAILURES):
        guard.failed("10.0.0.7", "sam")
    last = caplog.records[-1].getMessage()
    assert last == "failed dashboard login from 10.0.0.7 as 'sam' (5 in a row); locked out for 30 s"
