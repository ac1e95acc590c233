"""``kkorthanc server compose`` and the server options it shares with ``server start`` (no I/O
beyond a temporary folder; docker itself cannot run here, so the files are parsed and checked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kkorthanc.cli import main
from kkorthanc.errors import OrthancInputError
from kkorthanc.server import (
    ServerOptions,
    compose_files,
    effective_config,
    parse_setting,
    parse_user,
)

yaml = pytest.importorskip("yaml")


def compose(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["server", "compose", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_compose_writes_valid_files_carrying_every_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"MaximumStorageSize": 1000}))
    target = tmp_path / "pacs"
    status, out, err = compose(
        capsys,
        str(target),
        "--http-port",
        "8142",
        "--dicom-port",
        "4342",
        "--aet",
        "LAB",
        "--user",
        "alice:s3cret",
        "--set",
        "StableAge=5",
        "--set",
        "Name=Lab",
        "--config",
        str(base),
        "--plugin",
        "dicomweb",
        "--plugin",
        "python",
    )
    assert status == 0, err
    assert "docker compose up -d" in err
    assert out.split() == [
        str(target / name)
        for name in (
            "docker-compose.yml",
            "orthanc.json",
            "orthanc-secrets.json",
            "kkorthanc-password",
        )
    ]
    document = yaml.safe_load((target / "docker-compose.yml").read_text())
    service = document["services"]["orthanc"]
    assert service["image"].startswith("orthancteam/orthanc")
    assert service["ports"] == ["127.0.0.1:8142:8142", "127.0.0.1:4342:4342"]
    assert "./orthanc.json:/etc/orthanc/orthanc.json:ro" in service["volumes"]
    assert "./db:/var/lib/orthanc/db" in service["volumes"]
    assert service["environment"]["DICOM_WEB_PLUGIN_ENABLED"] == "true"
    assert service["environment"]["PYTHON_PLUGIN_ENABLED"] == "true"
    config = json.loads((target / "orthanc.json").read_text())
    assert (config["HttpPort"], config["DicomPort"], config["DicomAet"]) == (8142, 4342, "LAB")
    assert "RegisteredUsers" not in config  # in orthanc-secrets.json, read as a docker secret
    secret = json.loads((target / "orthanc-secrets.json").read_text())
    assert secret["RegisteredUsers"] == {"alice": "s3cret"}
    assert config["AuthenticationEnabled"] is True
    assert (config["StableAge"], config["Name"], config["MaximumStorageSize"]) == (5, "Lab", 1000)
    assert config["StorageDirectory"] == "/var/lib/orthanc/db"
    assert "Plugins" not in config  # the image loads plugins from its environment variables
    assert (target / "db").is_dir()


def test_compose_remote_publishes_on_every_interface(tmp_path: Path) -> None:
    options = ServerOptions(tmp_path, users={"a": "b"}, remote=True)
    document, config = compose_files(options)
    assert document["services"]["orthanc"]["ports"] == ["8042:8042", "4242:4242"]
    assert config["RemoteAccessAllowed"] is True


def test_compose_local_postgres_adds_a_database_service(tmp_path: Path) -> None:
    document, config = compose_files(ServerOptions(tmp_path, postgres="local"))
    assert document["services"]["postgres"]["image"].startswith("postgres:")
    assert document["services"]["orthanc"]["depends_on"] == ["postgres"]
    assert document["services"]["orthanc"]["environment"]["POSTGRESQL_PLUGIN_ENABLED"] == "true"
    assert config["PostgreSQL"]["ConnectionUri"].startswith("postgresql://orthanc:")
    assert "orthanc:orthanc@" not in config["PostgreSQL"]["ConnectionUri"]
    assert config["PostgreSQL"]["EnableIndex"] is True


def test_compose_with_an_external_postgres_keeps_its_uri(tmp_path: Path) -> None:
    uri = "postgresql://orthanc:pw@db.example:5432/pacs"
    document, config = compose_files(ServerOptions(tmp_path, postgres=uri))
    assert "postgres" not in document["services"]
    assert config["PostgreSQL"]["ConnectionUri"] == uri


def test_compose_kk_plugin_ships_the_script(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, _ = compose(capsys, str(tmp_path / "kk"), "--plugin", "kk")
    assert status == 0
    script = tmp_path / "kk" / "kkorthanc_plugin.py"
    assert str(script) in out.split()
    assert "RegisterRestCallback" in script.read_text()
    config = json.loads((tmp_path / "kk" / "orthanc.json").read_text())
    assert config["PythonScript"] == "/etc/orthanc/kkorthanc_plugin.py"


def test_compose_refuses_remote_without_user(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = compose(capsys, str(tmp_path / "x"), "--remote")
    assert status == 2
    assert "--user" in err
    assert not (tmp_path / "x").exists()


def test_yaml_quotes_every_string() -> None:
    from kkorthanc.server._compose import to_yaml

    value = {"a": ["yes", "no", "1.10", "on: #1", {"k": [], "é": 3}], "b": {"c": None}}
    assert yaml.safe_load(to_yaml(value)) == value


def test_settings_values_parse_as_json_else_text() -> None:
    assert parse_setting("StableAge=5") == ("StableAge", 5)
    assert parse_setting("OverwriteInstances=true") == ("OverwriteInstances", True)
    assert parse_setting('DicomModalities={"a": ["A", "127.0.0.1", 104]}')[1] == {
        "a": ["A", "127.0.0.1", 104]
    }
    assert parse_setting("Name=x=y") == ("Name", "x=y")
    with pytest.raises(OrthancInputError):
        parse_setting("novalue")


def test_user_parsing() -> None:
    assert parse_user("alice:pa:ss") == ("alice", "pa:ss")
    for bad in ("alice", ":pw", "alice:"):
        with pytest.raises(OrthancInputError):
            parse_user(bad)


def test_effective_config_layers(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    base.write_text(
        json.dumps(
            {
                "HttpPort": 9000,
                "DicomAet": "FILE",
                "StableAge": 3,
                "Plugins": ["/opt/x.so"],
                "IndexDirectory": "/elsewhere",
            }
        )
    )
    options = ServerOptions(tmp_path / "d", config_file=base, aet="FLAG", settings={"StableAge": 9})
    config = effective_config(options, check_plugins=False)
    assert config["HttpPort"] == 9000  # from the file
    assert config["DicomAet"] == "FLAG"  # an explicit option beats the file
    assert config["StableAge"] == 9  # --set beats both
    assert config["IndexDirectory"] == str(tmp_path / "d" / "db")  # storage stays in the data dir
    assert config["Plugins"] == ["/opt/x.so"]
    assert config["RemoteAccessAllowed"] is False


def test_remote_access_from_a_setting_still_needs_users(tmp_path: Path) -> None:
    options = ServerOptions(tmp_path, settings={"RemoteAccessAllowed": True})
    with pytest.raises(OrthancInputError, match="--user"):
        effective_config(options, check_plugins=False)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"plugins": ("nope",)}, "unknown plugin"),
        ({"http_port": 70000}, "between 1 and 65535"),
        ({"plugins": ("postgresql",)}, "--postgres"),
        ({"remote": True}, "--user"),
    ],
)
def test_bad_options(tmp_path: Path, options: dict[str, object], message: str) -> None:
    with pytest.raises(OrthancInputError, match=message):
        ServerOptions(tmp_path, **options).validate()  # type: ignore[arg-type]


def test_a_broken_config_file_is_an_input_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    with pytest.raises(OrthancInputError, match="--config"):
        effective_config(ServerOptions(tmp_path, config_file=broken), check_plugins=False)
