"""Streamlit's OIDC login configuration ([auth] in secrets.toml), checked before use, and the
role a person gets from the provider's claims. No identity provider runs here."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.oidc import load_secrets, parse_auth, role_for, user_name
from opsroom.configfile import ConfigError
from opsroom.settings import Settings

SECRET = "client-secret-do-not-show"
ONE = {
    "redirect_uri": "https://ops.example.org/oauth2callback",
    "cookie_secret": "a-long-random-cookie-secret",
    "client_id": "opsroom",
    "client_secret": SECRET,
    "server_metadata_url": "https://id.example.org/.well-known/openid-configuration",
}


def test_one_unnamed_provider() -> None:
    assert parse_auth(ONE) == [None]


def test_named_providers_each_get_a_button() -> None:
    provider = {k: ONE[k] for k in ("client_id", "client_secret", "server_metadata_url")}
    auth = {
        "redirect_uri": "http://localhost:8501/oauth2callback",  # http only for localhost
        "cookie_secret": ONE["cookie_secret"],
        "google": provider,
        "microsoft": provider | {"client_kwargs": {"prompt": "login"}},  # passed to Authlib
    }
    assert parse_auth(auth) == ["google", "microsoft"]


def test_every_problem_is_named_by_field_and_no_secret_is_shown() -> None:
    auth = {
        "redirect_uri": "http://ops.example.org/callback",
        "cookie_secret": "short",
        "okta": {"client_secret": SECRET, "server_metadata_url": "ftp://id.example.org/x"},
    }
    with pytest.raises(ConfigError) as err:
        parse_auth(auth, "secrets.toml")
    text = str(err.value)
    assert text.startswith("secrets.toml: 4 problems")
    assert "auth.redirect_uri: must use https (http only for localhost)" in text
    assert "auth.cookie_secret: must be at least 16 characters" in text
    assert "auth.okta.client_id: missing" in text
    assert "auth.okta.server_metadata_url: must be an http(s) URL" in text
    assert SECRET not in text and "short" not in text


def test_no_auth_section_or_no_provider() -> None:
    with pytest.raises(ConfigError, match=r"auth: missing"):
        parse_auth(None)
    with pytest.raises(ConfigError, match=r"no provider"):
        parse_auth({k: ONE[k] for k in ("redirect_uri", "cookie_secret")})
    with pytest.raises(ConfigError, match=r"must end with /oauth2callback"):
        parse_auth(ONE | {"redirect_uri": "https://ops.example.org/"})


def test_the_secrets_file_is_found_and_its_errors_name_it(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        "[auth]\n"
        + "".join(
            f'{k} = "{v}"\n' for k, v in ONE.items() if k in ("redirect_uri", "cookie_secret")
        )
        + "[auth.google]\n"
        + "".join(f'{k} = "{v}"\n' for k, v in ONE.items() if k.startswith(("client", "server")))
    )
    assert load_secrets([tmp_path / "absent.toml", good]) == (good, ["google"])
    bad = tmp_path / "bad.toml"
    bad.write_text('[auth]\nredirect_uri = "https://x.example/oauth2callback"\n')
    with pytest.raises(ConfigError) as err:
        load_secrets([bad])
    assert str(err.value).startswith(f"{bad}: ") and "auth.cookie_secret: missing" in str(err.value)
    broken = tmp_path / "broken.toml"
    broken.write_text("[auth\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_secrets([broken])
    with pytest.raises(ConfigError, match=r"no \[auth\] section"):
        load_secrets([tmp_path / "absent.toml"])


@pytest.mark.parametrize(
    ("claims", "role_map", "default", "expected"),
    [
        ({"roles": ["operator"]}, {}, "viewer", "operator"),
        ({"roles": "admin"}, {}, "viewer", "admin"),
        ({"roles": ["viewer", "admin", "operator"]}, {}, "none", "admin"),  # the highest
        ({"groups": ["ops-duty"]}, {"ops-duty": "operator"}, "none", None),  # other claim
        ({"roles": ["ops-duty", "staff"]}, {"ops-duty": "operator"}, "none", "operator"),
        ({"roles": ["staff"]}, {}, "viewer", "viewer"),  # nothing granted: the default
        ({}, {}, "none", None),  # no default: no access
        ({"roles": [1, None]}, {}, "none", None),
    ],
)
def test_role_from_claims(claims, role_map, default, expected) -> None:
    assert role_for(claims, "roles", role_map, default) == expected


def test_the_name_on_actions_comes_from_the_claims() -> None:
    assert user_name({"email": "kim@example.org", "name": "Kim"}) == "kim@example.org"
    assert user_name({"preferred_username": "kim"}) == "kim"
    assert user_name({"sub": "1234"}) == "1234"


def test_oidc_settings_are_checked() -> None:
    s = Settings.load(
        env={
            "OPSROOM_DASHBOARD_AUTH": "oidc",
            "OPSROOM_OIDC_ROLE_MAP": "ops-duty=operator, ops-leads=admin",
        }
    )
    assert s.oidc_roles == {"ops-duty": "operator", "ops-leads": "admin"}
    with pytest.raises(ConfigError, match="role must be viewer, operator or admin"):
        Settings.load(env={"OPSROOM_OIDC_ROLE_MAP": "ops-duty=boss"})
    with pytest.raises(ConfigError, match="dashboard_auth"):
        Settings.load(env={"OPSROOM_DASHBOARD_AUTH": "saml"})


def test_the_kiosk_token_is_long_and_never_echoed() -> None:
    with pytest.raises(ConfigError) as err:
        Settings.load(env={"OPSROOM_KIOSK_TOKEN": "wall-123"})
    assert "at least 16 characters" in str(err.value) and "wall-123" not in str(err.value)
