"""compose.yaml (and compose.drill.yaml on top) parse, every Opsroom service's command is a
real CLI command, and each part gets only the credentials it needs."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsroom.app.cli import build_parser, main
from opsroom.broker import Mosquitto
from opsroom.families import FAMILIES
from opsroom.settings import Settings
from opsroom.topics import mosquitto_acl

ROOT = Path(__file__).resolve().parents[1]


def merge(base: Any, over: Any) -> Any:
    """Compose's merge of a second file onto the first (mappings merged, the rest replaced)."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {k: merge(base[k], v) if k in base else v for k, v in over.items()} | {
            k: v for k, v in base.items() if k not in over
        }
    return over


@pytest.fixture(scope="module")
def production() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def compose(production: dict) -> dict:
    """compose.yaml with compose.drill.yaml on top: every service there is."""
    return merge(production, yaml.safe_load((ROOT / "compose.drill.yaml").read_text()))


def variables(value: Any) -> set[str]:
    """The ${NAME...} variables a compose value takes from .env."""
    return set(re.findall(r"\$\{([A-Z0-9_]+)", str(value)))


def opsroom_services(compose: dict) -> dict[str, dict]:
    return {n: s for n, s in compose["services"].items() if s.get("image") == "opsroom:latest"}


def test_services_and_the_drill_file(production: dict, compose: dict) -> None:
    assert set(production["services"]) == {
        "mosquitto-acl",
        "mosquitto",
        "influxdb",
        "ingest",
        "rules",
        "dashboard",
    }
    assert set(compose["services"]) == {*production["services"], "simulator"}
    for name, service in compose["services"].items():
        if name not in ("simulator", "mosquitto-acl"):  # the one-shot jobs
            assert "healthcheck" in service, f"{name} has no health check"
            # compose restarts a container that exits, never one that is merely unhealthy
            assert service.get("restart") in ("unless-stopped", "always", "on-failure"), name
    check = compose["services"]["ingest"]["healthcheck"]["test"]
    assert check[:4] == ["CMD", "opsroom", "health", "ingest"]


def test_the_simulator_user_exists_only_with_the_drill_file(
    production: dict, compose: dict
) -> None:
    assert "MQTT_SIMULATOR_PASSWORD" not in production["services"]["mosquitto"]["environment"]
    assert "MQTT_SIMULATOR_PASSWORD" in compose["services"]["mosquitto"]["environment"]
    assert "MQTT_SIMULATOR_PASSWORD" not in (ROOT / "compose.yaml").read_text()


def test_each_service_gets_only_its_own_influxdb_token(compose: dict) -> None:
    tokens = {
        name: {v for v in variables(service.get("environment")) if "INFLUXDB" in v and "TOKEN" in v}
        for name, service in compose["services"].items()
    }
    assert tokens == {
        "mosquitto-acl": set(),
        "mosquitto": set(),
        "influxdb": {"INFLUXDB_ADMIN_TOKEN"},  # its set-up only; no Opsroom part has it
        "ingest": {"INFLUXDB_INGEST_TOKEN"},
        "rules": {"INFLUXDB_RULES_TOKEN"},
        "dashboard": {"INFLUXDB_DASHBOARD_TOKEN"},
        "simulator": set(),  # it never opens the store
    }
    for name in ("ingest", "rules", "dashboard"):
        assert "OPSROOM_INFLUXDB_TOKEN" in compose["services"][name]["environment"]
    # the wall screen's kiosk token is the dashboard's alone
    holders = [n for n, s in compose["services"].items() if "OPSROOM_KIOSK_TOKEN" in str(s)]
    assert holders == ["dashboard"]
    mounts = compose["services"]["influxdb"]["volumes"]
    assert any(m.endswith(":/docker-entrypoint-initdb.d/opsroom-tokens.sh:ro") for m in mounts)


def test_the_token_script_asks_each_service_only_its_rights(tmp_path: Path) -> None:
    """deploy/influxdb/opsroom-tokens.sh with a stand-in `influx` that prints what the real
    CLI's `auth create --json` prints (no InfluxDB 2 server can run here)."""
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "influx"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {calls}\n'
        'desc=$(echo "$*" | sed -n "s/.*--description \\([^ ]*\\).*/\\1/p")\n'
        'printf \'{\\n\\t"id": "0a1b",\\n\\t"description": "%s",\\n\\t"token": "tok-%s==",\\n'
        '\\t"status": "active"\\n}\\n\' "$desc" "$desc"\n'
    )
    fake.chmod(0o755)
    out = tmp_path / "opsroom-tokens.env"
    env = {
        "PATH": f"{fake.parent}:{os.environ['PATH']}",
        "OPSROOM_TOKENS_FILE": str(out),
        "DOCKER_INFLUXDB_INIT_ORG": "opsroom",
        "DOCKER_INFLUXDB_INIT_BUCKET_ID": "b0c1d2e3f4a5b6c7",
        "DOCKER_INFLUXDB_INIT_USERNAME": "admin",
    }
    script = str(ROOT / "deploy" / "influxdb" / "opsroom-tokens.sh")
    done = subprocess.run([script], env=env, capture_output=True, text=True, check=True)
    assert "tok-" not in done.stdout + done.stderr  # tokens go to the file, not the log
    assert out.read_text().splitlines() == [
        "INFLUXDB_INGEST_TOKEN=tok-opsroom-ingest==",
        "INFLUXDB_RULES_TOKEN=tok-opsroom-rules==",
        "INFLUXDB_DASHBOARD_TOKEN=tok-opsroom-dashboard==",
    ]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rights = {
        line.split("--description ")[1].split()[0]: sorted(re.findall(r"--(\w+)-bucket", line))
        for line in calls.read_text().splitlines()
    }
    assert rights == {
        "opsroom-ingest": ["write"],
        "opsroom-rules": ["read", "write"],
        "opsroom-dashboard": ["read"],
    }
    subprocess.run([script], env=env, capture_output=True, check=True)  # again: kept as is
    assert len(calls.read_text().splitlines()) == 3


@pytest.mark.parametrize("name", ["ingest", "rules", "dashboard", "simulator", "mosquitto-acl"])
def test_every_command_exists_in_the_cli(compose: dict, name: str) -> None:
    service = opsroom_services(compose)[name]
    parser = build_parser()
    args = parser.parse_args(service["command"])  # exits (fails the test) if unknown
    assert callable(args.handler)
    check = service.get("healthcheck", {}).get("test", [])
    if check[:2] == ["CMD", "opsroom"]:
        assert callable(parser.parse_args(check[2:]).handler)


def test_environment_names_real_settings(compose: dict) -> None:
    fields = {f"OPSROOM_{name.upper()}" for name in Settings.model_fields}
    for name, service in opsroom_services(compose).items():
        for key in service.get("environment", {}):
            if key.startswith("OPSROOM_"):
                assert key in fields, f"{name}: {key} is not a setting"


def test_mounted_files_exist_and_secrets_come_from_env(compose: dict) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and source.endswith(".sh"):
                assert os.access(ROOT / source, os.X_OK), f"{source} is not executable"
            if source.startswith("./"):
                path = ROOT / source
                optional = source.endswith("/devices")  # the technician creates it
                assert optional or path.exists(), f"{name} mounts missing {source}"
    text = (ROOT / "compose.yaml").read_text() + (ROOT / "compose.drill.yaml").read_text()
    for secret in ("INFLUXDB_ADMIN_TOKEN", "MQTT_INGEST_PASSWORD", "OPSROOM_DASHBOARD_PASSWORD"):
        assert f"${{{secret}" in text  # taken from .env, never written in the file
    example = (ROOT / ".env.example").read_text()
    for line in example.splitlines():
        if "PASSWORD=" in line or "TOKEN=" in line:
            assert line.endswith("="), f"a secret has a value in .env.example: {line}"
    assert "allow_anonymous false" in (ROOT / "deploy/mosquitto/mosquitto.conf").read_text()


@pytest.mark.parametrize("where", ["deploy/mosquitto/mosquitto.conf", "opsroom.broker.Mosquitto"])
def test_every_mosquitto_config_we_ship_limits_the_message_size(where: str) -> None:
    """Above what ingest accepts (it dead-letters the excess with a reason), far below 256 MB."""
    if where.endswith(".conf"):
        text = (ROOT / where).read_text()
    else:
        text = Mosquitto(ROOT / "unused").config()
    limits = [line.split()[1] for line in text.splitlines() if line.startswith("message_size_")]
    assert len(limits) == 1, f"{where}: set message_size_limit once"
    assert Settings().max_payload_bytes < int(limits[0]) <= 1_048_576


def test_mosquitto_starts_with_the_acl_written_for_every_family(production: dict) -> None:
    acl = production["services"]["mosquitto-acl"]
    assert acl["command"][0] == "mosquitto-acl"
    mosquitto = production["services"]["mosquitto"]
    assert mosquitto["depends_on"]["mosquitto-acl"]["condition"] == "service_completed_successfully"
    conf = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text()
    acl_dir = next(m.split(":")[1] for m in mosquitto["volumes"] if m.startswith("mosquitto-acl:"))
    assert f"acl_file {acl_dir}/acl" in conf


def test_the_acl_template_names_no_family_and_grants_each_one(tmp_path: Path) -> None:
    template = (ROOT / "deploy/mosquitto/acl.template").read_text()
    rules = [line for line in template.splitlines() if not line.startswith("#")]
    assert not [line for line in rules for kind in FAMILIES if f"/{kind}/" in line]
    acl = mosquitto_acl(template, [*FAMILIES, "newfamily"])
    for kind in [*FAMILIES, "newfamily"]:
        assert f"pattern write opsroom/+/{kind}/%u" in acl
        assert f"topic write opsroom/+/{kind}/#" in acl
    out = tmp_path / "acl"
    assert (
        main(["mosquitto-acl", str(ROOT / "deploy/mosquitto/acl.template"), "--out", str(out)]) == 0
    )
    assert out.read_text() == mosquitto_acl(template, FAMILIES)
