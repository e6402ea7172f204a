"""Streamlit's OIDC login (`st.login`) as an alternative to the users file: its configuration
checked before use, and the Opsroom role of a person from the identity provider's claims.

Streamlit reads `[auth]` from `.streamlit/secrets.toml` (the working directory's, then
`~/.streamlit/`): `redirect_uri` (ending in `/oauth2callback`) and `cookie_secret`, then either
`client_id`, `client_secret`, `server_metadata_url` in `[auth]` itself (one provider) or in
named sections (`[auth.google]`, `[auth.microsoft]`, ...; one login button each). Any other
key of a provider is handed to Authlib (e.g. `client_kwargs`). Error messages name the field,
never a secret's value.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from opsroom.configfile import ConfigError
from opsroom.users import ROLES, Role

PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
SECRET_KEYS = ("client_secret", "cookie_secret")
MIN_COOKIE_SECRET = 16
SECRETS_FILES = (Path(".streamlit/secrets.toml"), Path.home() / ".streamlit" / "secrets.toml")


def _url_problem(value: object, field: str, path_suffix: str | None = None) -> str | None:
    if not isinstance(value, str) or not value:
        return f"{field}: must be a URL (a string)"
    parts = urlsplit(value)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"{field}: must be an http(s) URL (got {value!r})"
    if parts.scheme == "http" and not local:
        return f"{field}: must use https (http only for localhost) (got {value!r})"
    if path_suffix and not parts.path.endswith(path_suffix):
        return f"{field}: must end with {path_suffix} (got {value!r})"
    return None


def _provider_problems(section: Mapping[str, Any], where: str) -> list[str]:
    problems = []
    for key in PROVIDER_KEYS:
        value = section.get(key)
        if value is None or value == "":
            problems.append(f"{where}.{key}: missing")
        elif key == "server_metadata_url":
            problems += filter(None, [_url_problem(value, f"{where}.{key}")])
        elif not isinstance(value, str):
            problems.append(f"{where}.{key}: must be a string")
    return problems


def parse_auth(auth: Mapping[str, Any] | None, source: str = "secrets [auth]") -> list[str | None]:
    """Check Streamlit's `[auth]` secrets; return the providers to offer (None: the one
    unnamed provider of `[auth]` itself). ConfigError lists every problem by field."""
    if not auth:
        raise ConfigError(source, ["auth: missing (Streamlit's [auth] section, see README)"])
    problems: list[str] = []
    redirect = _url_problem(auth.get("redirect_uri"), "auth.redirect_uri", "/oauth2callback")
    if redirect:
        problems.append(redirect)
    cookie = auth.get("cookie_secret")
    if not isinstance(cookie, str) or not cookie:
        problems.append("auth.cookie_secret: missing")
    elif len(cookie) < MIN_COOKIE_SECRET:
        problems.append(
            f"auth.cookie_secret: must be at least {MIN_COOKIE_SECRET} characters (a long "
            "random string)"
        )
    named = {k: v for k, v in auth.items() if isinstance(v, Mapping)}
    unnamed = any(k in auth for k in PROVIDER_KEYS)
    providers: list[str | None] = []
    if unnamed:
        problems += _provider_problems(auth, "auth")
        providers.append(None)
    for name, section in named.items():
        problems += _provider_problems(section, f"auth.{name}")
        providers.append(name)
    if not providers:
        problems.append(
            "auth: no provider: give client_id, client_secret and server_metadata_url in "
            "[auth] or in a section such as [auth.google]"
        )
    if problems:
        raise ConfigError(source, problems)
    return providers


def load_secrets(paths: Sequence[Path] = SECRETS_FILES) -> tuple[Path, list[str | None]]:
    """Find Streamlit's secrets file with an `[auth]` section and check it: (file, providers).
    ConfigError names the file and the fields."""
    for path in paths:
        if not path.exists():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
        if "auth" in data:
            return path, parse_auth(data["auth"], str(path))
    where = " or ".join(str(p) for p in paths)
    raise ConfigError("OIDC login", [f"no [auth] section in {where}"])


def role_for(
    claims: Mapping[str, Any],
    claim: str,
    role_map: Mapping[str, str],
    default: str,
) -> Role | None:
    """The highest role the claim `claim` grants (its values, mapped through `role_map` or
    naming a role themselves), else `default` ("none": no access)."""
    value = claims.get(claim)
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    granted = [role_map.get(v, v) for v in values if isinstance(v, str)]
    ranked = [r for r in ROLES if r in granted]
    if ranked:
        return ranked[-1]
    for role in ROLES:
        if role == default:
            return role
    return None


def user_name(claims: Mapping[str, Any]) -> str:
    """The name a person's actions carry: e-mail, preferred user name, name or subject."""
    for key in ("email", "preferred_username", "name", "sub"):
        value = claims.get(key)
        if isinstance(value, str) and value:
            return value[:100]
    return "unknown"
