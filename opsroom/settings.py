"""Typed, validated settings from OPSROOM_* environment variables and command-line flags.

Secrets (MQTT password, InfluxDB token) come from the environment only and are never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from opsroom import redact, topics
from opsroom.configfile import ConfigError, validation_problems

MIN_PASSWORD_LENGTH = 12  # the dashboard's; a shared password on a wall screen is guessed
SECRET_FIELDS = ("mqtt_password", "influxdb_token", "dashboard_password", "kiosk_token")
MIN_KIOSK_TOKEN_LENGTH = 16


class MqttUrl(BaseModel):
    """A parsed `mqtt://[user:pass@]host:port` (or `mqtts://` for TLS)."""

    model_config = ConfigDict(frozen=True)

    host: str
    port: int = Field(ge=1, le=65535)
    tls: bool = False
    username: str | None = None
    password: SecretStr | None = None

    @classmethod
    def parse(cls, url: str) -> MqttUrl:
        """Parse an MQTT URL; ValueError names what is wrong."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(
                f"MQTT URL must start with mqtt:// or mqtts:// (not {parts.scheme or 'no'}://)"
            )
        if not parts.hostname:
            raise ValueError("MQTT URL has no host")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("MQTT URL has an invalid port") from None
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=SecretStr(unquote(parts.password)) if parts.password else None,
        )

    def __str__(self) -> str:
        """The URL without its password, safe to log."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


class Settings(BaseModel):
    """Everything a service needs to run; every field has an OPSROOM_<NAME> variable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: str = "demo"
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_protocol: Literal["auto", "5", "3.1.1"] = "auto"
    mqtt_ca_file: Path | None = None
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    store: str = "sqlite:///opsroom-data/opsroom.db"
    influxdb_url: str = "http://127.0.0.1:8086"
    influxdb_token: SecretStr | None = None
    influxdb_org: str = "opsroom"
    influxdb_bucket: str = "opsroom"
    venue: Path | None = None
    # the roster (people and teams, see opsroom.roster): when set, an owner must be one of them
    roster: Path | None = None
    # readings of sensors the venue file does not list: stored (and counted), or dead-lettered;
    # either way reported in at most one summary line per unknown_log_interval_s
    unknown_sensors: Literal["store", "deadletter"] = "store"
    unknown_log_interval_s: float = Field(60, gt=0)
    # ingest
    batch_size: int = Field(1000, ge=1, le=100_000)
    flush_interval_s: float = Field(1.0, gt=0, le=60)
    queue_size: int = Field(20_000, ge=10)
    max_payload_bytes: int = Field(16_384, ge=64, le=10_000_000)
    max_future_s: float = Field(300, ge=0)
    max_age_s: float = Field(172_800, gt=0)
    stats_interval_s: float = Field(10, gt=0)
    session_expiry_s: int = Field(86_400, ge=0)
    spool_dir: Path = Path("opsroom-data/spool")
    spool_max_mb: float = Field(1024, gt=0)
    # where services keep files of their own (rules state, notification log)
    data_dir: Path = Path("opsroom-data")
    # rules: the rules file, the notifiers file, how often silence is checked (wall seconds),
    # and how long engine state may stay unsaved (the MQTT messages behind it stay unacked)
    rules: Path | None = None
    notifiers: Path | None = None
    # contingency plans (a firing alert of a rule with a plan activates it), optional; the
    # roster above says who holds each role
    plans: Path | None = None
    rules_tick_s: float = Field(1.0, gt=0, le=60)
    rules_save_interval_s: float = Field(0.05, ge=0, le=10)
    # dashboard: its password (required unless dashboard_no_auth is set explicitly), when data
    # counts as stale (seconds behind the newest expected reading), and an optional web-tile
    # URL template ({z}/{x}/{y}) drawn under the venue map; off by default, the map is offline
    dashboard_password: SecretStr | None = None
    dashboard_no_auth: bool = False
    dashboard_stale_s: float = Field(60, gt=0)
    dashboard_tiles: str | None = None
    # people: the users file (named accounts, roles, argon2id hashes; without it the dashboard
    # password alone is one admin account), how the dashboard logs people in ("password":
    # users file or dashboard password; "oidc": Streamlit's st.login with the [auth] section
    # of .streamlit/secrets.toml, roles from a claim), how long an idle session lasts, and the
    # wall screen's kiosk token (`?kiosk=<token>`) and page rotation
    users_file: Path | None = None
    dashboard_auth: Literal["password", "oidc"] = "password"
    oidc_role_claim: str = "roles"
    oidc_default_role: Literal["none", "viewer", "operator", "admin"] = "viewer"
    oidc_role_map: str | None = None  # "claim-value=role,...", e.g. "ops-duty=operator"
    session_idle_minutes: float = Field(30, gt=0, le=24 * 60)
    # the first lockout after 5 wrong passwords (seconds); each further failure doubles it
    login_lockout_s: float = Field(30, ge=1, le=3600)
    kiosk_token: SecretStr | None = None
    kiosk_rotate_s: float = Field(20, ge=3, le=3600)

    @field_validator("event")
    @classmethod
    def _event_id(cls, v: str) -> str:
        if not topics.valid_id(v):
            raise ValueError("event must be letters, digits, '-', '_', '.', ':' (no '/', '+', '#')")
        return v

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, v: str) -> str:
        MqttUrl.parse(v)
        return v

    @field_validator("dashboard_password")
    @classmethod
    def _dashboard_password(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < MIN_PASSWORD_LENGTH:
            raise ValueError(
                f"must be at least {MIN_PASSWORD_LENGTH} characters long (it has "
                f"{len(v.get_secret_value())}); choose a long random one, e.g. "
                "`openssl rand -base64 18`"
            )
        return v

    @field_validator("kiosk_token")
    @classmethod
    def _kiosk_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < MIN_KIOSK_TOKEN_LENGTH:
            raise ValueError(
                f"must be at least {MIN_KIOSK_TOKEN_LENGTH} characters long (it has "
                f"{len(v.get_secret_value())}); e.g. `openssl rand -hex 16`"
            )
        return v

    @field_validator("oidc_role_map")
    @classmethod
    def _oidc_role_map(cls, v: str | None) -> str | None:
        if v is not None:
            parse_role_map(v)
        return v

    @property
    def oidc_roles(self) -> dict[str, str]:
        """The OIDC claim values that grant a role (OPSROOM_OIDC_ROLE_MAP), parsed."""
        return parse_role_map(self.oidc_role_map or "")

    @field_validator("store")
    @classmethod
    def _store_url(cls, v: str) -> str:
        if not (v.startswith("sqlite:///") or v == "influxdb" or v.startswith("influxdb")):
            raise ValueError("store must be sqlite:///PATH or influxdb")
        if v.startswith("sqlite:///") and len(v) == len("sqlite:///"):
            raise ValueError("sqlite:/// needs a file path")
        return v

    @property
    def mqtt(self) -> MqttUrl:
        """The broker address with credentials (URL ones, overridden by the dedicated fields)."""
        url = MqttUrl.parse(self.mqtt_url)
        if self.mqtt_username is not None or self.mqtt_password is not None:
            url = url.model_copy(
                update={
                    "username": self.mqtt_username or url.username,
                    "password": self.mqtt_password or url.password,
                }
            )
        return url

    @property
    def max_future(self) -> timedelta:
        """How far ahead of now a reading's ts may be."""
        return timedelta(seconds=self.max_future_s)

    @property
    def max_age(self) -> timedelta:
        """How old a reading's ts may be."""
        return timedelta(seconds=self.max_age_s)

    @property
    def rules_state_file(self) -> Path:
        """Where the rules service keeps its engine state between runs (one per event)."""
        return self.data_dir / f"rules-{self.event}.state.json"

    @property
    def notification_log(self) -> Path:
        """JSON lines, one per notification attempt, that the dashboard reads (one per event)."""
        return self.data_dir / f"notifications-{self.event}.jsonl"

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> Settings:
        """Settings from OPSROOM_* variables, then `overrides` (flags) on top; None is skipped."""
        env = os.environ if env is None else env
        data: dict[str, Any] = {}
        for name in cls.model_fields:
            key = f"OPSROOM_{name.upper()}"
            if key in env and env[key] != "":
                data[name] = env[key]
        for name, value in (overrides or {}).items():
            if value is not None:
                data[name] = value
        # the values a message must never show, whatever pydantic echoes back
        secrets: list[str | None] = [str(data[n]) for n in SECRET_FIELDS if data.get(n)]
        secrets.append(_url_password(str(data.get("mqtt_url", ""))))
        try:
            settings = cls.model_validate(data)
        except ValidationError as exc:
            problems = []
            for problem in validation_problems(exc):
                name, _, rest = problem.partition(": ")
                if name in SECRET_FIELDS:  # never echo the value, not even a wrong one
                    rest = rest.split(" (got ")[0]
                problems.append(redact.redact(f"{name} (OPSROOM_{name.upper()}): {rest}", secrets))
            raise ConfigError("settings", problems) from None
        redact.register(*secrets)
        return settings


def parse_role_map(text: str) -> dict[str, str]:
    """Parse "value=role,value=role" (roles: viewer, operator, admin); ValueError says why."""
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        value, sep, role = (x.strip() for x in item.partition("="))
        if not sep or not value:
            raise ValueError(f"{item!r} is not CLAIM_VALUE=ROLE")
        if role not in ("viewer", "operator", "admin"):
            raise ValueError(f"{item!r}: role must be viewer, operator or admin")
        out[value] = role
    return out


def _url_password(url: str) -> str | None:
    """The password in a URL's user-info, however broken the rest of the URL is."""
    head = url.partition("://")[2].split("/", 1)[0]
    if "@" not in head:
        return None
    password = head.rpartition("@")[0].partition(":")[2]
    return unquote(password) or None
