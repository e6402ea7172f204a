"""compose.yaml parses, and every Opsroom service's command is a real CLI command."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from opsroom.broker import Mosquitto
from opsroom.cli import build_parser
from opsroom.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def opsroom_services(compose: dict) -> dict[str, dict]:
    return {n: s for n, s in compose["services"].items() if s.get("image") == "opsroom:latest"}


def test_services_and_profiles(compose: dict) -> None:
    assert {"mosquitto", "influxdb", "ingest", "rules", "dashboard", "simulator"} <= set(
        compose["services"]
    )
    assert compose["services"]["simulator"]["profiles"] == ["drill"]
    for name, service in compose["services"].items():
        if name != "simulator":
            assert "healthcheck" in service, f"{name} has no health check"


@pytest.mark.parametrize("name", ["ingest", "rules", "dashboard", "simulator"])
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
        for key in service["environment"]:
            if key.startswith("OPSROOM_"):
                assert key in fields, f"{name}: {key} is not a setting"


def test_mounted_files_exist_and_secrets_come_from_env(compose: dict) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                path = ROOT / source
                optional = source.endswith("/devices")  # the technician creates it
                assert optional or path.exists(), f"{name} mounts missing {source}"
    text = (ROOT / "compose.yaml").read_text()
    for secret in ("INFLUXDB_TOKEN", "MQTT_INGEST_PASSWORD", "OPSROOM_DASHBOARD_PASSWORD"):
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
