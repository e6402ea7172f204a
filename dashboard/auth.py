"""Who is using this session, and what they may do: login, logout, idle expiry, kiosk.

The logged-in user lives in `st.session_state` (one per browser tab). Pages ask
`current_user()` and `can(action)`; they never read the session state themselves.

Ways in, in order: the kiosk URL (`?kiosk=<OPSROOM_KIOSK_TOKEN>`: a viewer for the wall
screen, no password typed), Streamlit's OIDC login (`OPSROOM_DASHBOARD_AUTH=oidc`), or a name
and password checked against the users file (or the one admin account of
OPSROOM_DASHBOARD_PASSWORD). Failures are counted per address and per name (login.GUARD).

Every login success, failure, lockout, logout, expiry and acknowledgement passes through
`_audit`, today a log line; the audit trail is connected there.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from dashboard import login
from dashboard.lang import N_, _
from opsroom.audit import MAX_ADDRESS, AuditEntry, recordable_text, untrusted_name
from opsroom.clock import utcnow
from opsroom.configfile import ConfigError
from opsroom.settings import Settings
from opsroom.store import StoreError
from opsroom.users import MAX_NAME, Directory, User, directory

_USER = "opsroom_user"
_ADDRESS = "opsroom_address"
_ACTIVE = "opsroom_last_active"
_AUTO = "opsroom_auto_rerun"
_NOTICE = "opsroom_login_notice"
_KIOSK_CHECKED = "opsroom_kiosk_checked"

WATCH_S = 2.0  # how often an open page checks its session's idle time
MISSING_PASSWORD_HELP = N_(
    "The dashboard has no accounts: set OPSROOM_USERS_FILE (see `opsroom users add`) or "
    "OPSROOM_DASHBOARD_PASSWORD, or set OPSROOM_DASHBOARD_NO_AUTH=1 to run it open on "
    "purpose (trusted network only)."
)
DISABLED_TEXT = N_("This account is disabled. Ask an Opsroom admin to enable it.")

audit_log = logging.getLogger("opsroom.dashboard.audit")
clock: Callable[[], float] = time.monotonic  # idle time is measured on this (tests pin it)


def _audit(action: str, user: str | None, role: str | None, address: str, detail: str = "") -> None:
    """The one place every login success/failure/lockout/logout/expiry and acknowledgement
    is recorded (user, role, client address, what): a log line, and an entry in the store's
    append-only audit trail (`opsroom audit export`). Never given a password. A store that
    cannot take it is logged, and the person's action goes on."""
    audit_log.info(
        "audit %s user=%s role=%s address=%s%s",
        action,
        user or "-",
        role or "-",
        address,
        f" {detail}" if detail else "",
    )
    from dashboard import cache

    try:
        entry = AuditEntry(
            ts=utcnow(),
            user=untrusted_name(user or "?"),
            role=role,
            action=action,
            detail=recordable_text(detail),
            address=untrusted_name(address, MAX_ADDRESS),
        )
        settings = Settings.load()
        cache.store(cache.store_key(settings)).write_audit([entry])
    except (ValueError, ConfigError, StoreError) as exc:  # ValidationError is a ValueError
        audit_log.error("audit entry %s of %s not stored: %s", action, user or "-", exc)


def audit(action: str, detail: str = "") -> None:
    """Record an action of the logged-in user (e.g. "ack") through `_audit`."""
    user = current_user()
    _audit(
        action,
        user.name if user else None,
        user.role if user else None,
        st.session_state.get(_ADDRESS, "local"),
        detail,
    )


def current_user() -> User | None:
    """The logged-in user of this session, or None."""
    user = st.session_state.get(_USER)
    return user if isinstance(user, User) else None


def can(action: str) -> bool:
    """May this session's user do `action` ("ack", "manage_users")? False when logged out."""
    user = current_user()
    return user is not None and user.can(action)


def kiosk() -> bool:
    """Is this session the wall screen (kiosk mode: no controls, larger type, rotating)?"""
    user = current_user()
    return user is not None and user.kiosk


def idle_expired(last_active: float, now: float, idle_minutes: float) -> bool:
    """Has a session last active at `last_active` been idle too long at `now`?"""
    return now - last_active > idle_minutes * 60


def mark_automatic_rerun() -> None:
    """Say that the next full run is the page refreshing itself, not the person acting:
    it does not count as activity for the idle timer."""
    st.session_state[_AUTO] = True


@st.cache_resource(show_spinner=False, max_entries=4)
def _directory(users_file: str | None, mtime: float, env_password: str | None) -> Directory:
    return directory(Path(users_file) if users_file else None, env_password)


def accounts(s: Settings) -> Directory:
    """The accounts of the users file (reloaded when it changes) or of the dashboard password."""
    path = str(s.users_file) if s.users_file else None
    mtime = os.stat(path).st_mtime if path and os.path.exists(path) else 0.0
    password = s.dashboard_password.get_secret_value() if s.dashboard_password else None
    return _directory(path, mtime, password)


def _begin(user: User, address: str) -> None:
    st.session_state[_USER] = user
    st.session_state[_ADDRESS] = address
    st.session_state[_ACTIVE] = clock()


def _end(notice: str | None = None) -> None:
    for key in (_USER, _ACTIVE, _AUTO):
        st.session_state.pop(key, None)
    if notice:
        st.session_state[_NOTICE] = notice


def logout() -> None:
    """End this session's login (the OIDC one too)."""
    user = current_user()
    if user is not None:
        _audit("logout", user.name, user.role, st.session_state.get(_ADDRESS, "local"))
    _end(_("You are logged out."))


def _still_valid(s: Settings, user: User) -> str | None:
    """Why a logged-in session must end now (idle, account disabled or changed), or None."""
    if user.kiosk:
        return None  # the wall screen stays up; its token is checked on every new session
    last = st.session_state.get(_ACTIVE, 0.0)
    if idle_expired(last, clock(), s.session_idle_minutes):
        return _(
            "Your session expired after {minutes} min without activity.",
            minutes=f"{s.session_idle_minutes:g}",
        )
    if s.dashboard_auth == "password":
        try:
            users = accounts(s).users
        except ConfigError:
            return _("The users file cannot be loaded: log in again once it is fixed.")
        if users is not None:
            entry = users.get(user.name)
            if entry is None or entry.disabled or entry.role != user.role:
                return _("Your account was changed or disabled: log in again.")
    return None


def check_session(s: Settings) -> bool:
    """End the session if it has expired; True if it is still logged in. Counts this run as
    activity unless the page marked it as its own refresh."""
    user = current_user()
    if user is None:
        return False
    why = _still_valid(s, user)
    if why is not None:
        _audit(
            "session_expired", user.name, user.role, st.session_state.get(_ADDRESS, "local"), why
        )
        _end(why)
        if s.dashboard_auth == "oidc" and st.user.is_logged_in:
            st.logout()  # else the provider's cookie would log the idle session straight back in
        return False
    if not st.session_state.pop(_AUTO, False):
        st.session_state[_ACTIVE] = clock()
    return True


def _kiosk_login(s: Settings, address: str) -> None:
    """Log the wall screen in from `?kiosk=<token>`; a wrong token counts as a failed login
    of the address (checked once per session, then the normal login page shows)."""
    token = st.query_params.get("kiosk")
    if token is None or st.session_state.get(_KIOSK_CHECKED) == token:
        return
    st.session_state[_KIOSK_CHECKED] = token
    left = login.GUARD.locked_for(address)
    if left:
        login.GUARD.refused(address, left)
        _audit("login_refused_locked", "kiosk", "viewer", address, "kiosk token not checked")
        return
    expected = s.kiosk_token.get_secret_value() if s.kiosk_token else None
    if expected is not None and hmac.compare_digest(token.encode(), expected.encode()):
        login.GUARD.succeeded(address)
        _begin(User("kiosk", "viewer", kiosk=True), address)
        _audit("login", "kiosk", "viewer", address, "kiosk token")
        return
    lockout = login.GUARD.failed(address)
    _audit("login_failed", "kiosk", None, address, "wrong kiosk token")
    if lockout:
        _audit("lockout", None, None, address, f"{lockout:.0f} s")


def _password_form(s: Settings, address: str) -> None:
    """The name-and-password form, and what happens when it is sent."""
    with st.form("login"):
        name = st.text_input(_("User"), key="login_user", max_chars=MAX_NAME)
        entered = st.text_input(_("Password"), type="password", key="login_password")
        submitted = st.form_submit_button(_("Log in"))
    name = name.strip()
    if not submitted:
        left = login.GUARD.locked_for(address)
        if left:
            st.error(login.lockout_text(left))
        return
    left = login.GUARD.locked_for(address, name)
    if left:
        login.GUARD.refused(address, left, name)
        _audit("login_refused_locked", name, None, address)
        st.error(login.lockout_text(left))
        return
    outcome, user = accounts(s).authenticate(name, entered)
    if outcome == "ok" and user is not None:
        login.GUARD.succeeded(address, name)
        _begin(user, address)
        _audit("login", user.name, user.role, address)
        st.rerun()
    if outcome == "disabled":
        _audit("login_disabled", name, None, address)
        st.error(_(DISABLED_TEXT))
        return
    lockout = login.GUARD.failed(address, name)
    _audit("login_failed", name, None, address)
    st.error(_("Wrong user name or password."))
    if lockout:
        _audit("lockout", name, None, address, f"{lockout:.0f} s")
        st.error(login.lockout_text(lockout))


def _oidc(s: Settings, address: str) -> None:
    """Streamlit's OIDC login (st.login): the identity provider checks the password; the
    role comes from a claim (OPSROOM_OIDC_ROLE_CLAIM / _ROLE_MAP) or the default role."""
    from dashboard import oidc

    try:
        providers = oidc.parse_auth(st.secrets.to_dict().get("auth"))
    except (ConfigError, FileNotFoundError) as exc:
        st.error(_("OIDC login is not configured: {error}", error=exc))
        return
    if st.user.is_logged_in:
        claims = st.user.to_dict()
        name = oidc.user_name(claims)
        role = oidc.role_for(claims, s.oidc_role_claim, s.oidc_roles, s.oidc_default_role)
        if role is None:
            _audit("login_failed", name, None, address, "no Opsroom role in the OIDC claims")
            st.error(_("{name} has no Opsroom role. Ask an admin to grant one.", name=name))
            if st.button(_("Log out")):
                st.logout()
            return
        _begin(User(name, role), address)
        _audit("login", name, role, address, "oidc")
        st.rerun()
    for provider in providers:
        label = _("Log in") if provider is None else _("Log in with {provider}", provider=provider)
        if st.button(label, key=f"oidc_{provider or 'default'}"):
            st.login(provider) if provider else st.login()


def require_login(s: Settings) -> bool:
    """True when the session may see the dashboard; otherwise draws the login page."""
    login.GUARD.first_lockout_s = s.login_lockout_s
    if s.dashboard_no_auth:
        if current_user() is None:
            _begin(User("anonymous", "operator"), "local")
        return True
    if check_session(s):
        return True
    login.ensure_log_handler()
    address = login.client_address(st.context.ip_address)
    if s.kiosk_token is not None or "kiosk" in st.query_params:
        _kiosk_login(s, address)
        if current_user() is not None:
            return True
    if s.dashboard_auth == "password" and s.users_file is None and s.dashboard_password is None:
        st.error(_(MISSING_PASSWORD_HELP))
        return False
    try:
        accounts(s)
    except ConfigError as exc:
        st.error(_("Cannot load the users file: {error}", error=exc))
        return False
    st.title("Opsroom")
    notice = st.session_state.pop(_NOTICE, None)
    if notice:
        st.info(notice)
    if s.dashboard_auth == "oidc":
        _oidc(s, address)
    else:
        _password_form(s, address)
    return False


@st.fragment(run_every=WATCH_S)
def session_bar(s: Settings) -> None:
    """Who is logged in, a logout button, and the idle check of an open page (in the
    sidebar): an expired session goes back to the login page without a click."""
    user = current_user()
    if user is None:
        return
    if _still_valid(s, user) is not None:
        mark_automatic_rerun()
        st.rerun()
    st.caption(_("Logged in as **{user}** ({role})", user=user.name, role=_(user.role)))
    if st.button(_("Log out"), key="logout"):
        oidc = s.dashboard_auth == "oidc" and st.user.is_logged_in
        logout()
        if oidc:
            st.logout()
        st.rerun()
