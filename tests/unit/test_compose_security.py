"""Issue 11: ``server compose`` gave a container with remote access and no authentication, a
hard-coded PostgreSQL password, and world-readable files. Docker cannot run here, so each test
checks the files written (content and mode) and what the command printed."""

from __future__ import annotations

import json
import os
import pwd
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kkorthanc.cli import main

yaml = pytest.importorskip("yaml")

EXIT_LOCAL_SERVER = 7


@pytest.fixture(autouse=True)
def _lax_umask() -> Iterator[None]:
    """A umask that lets files be read by all: modes must come from the code, not the umask."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def compose(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["server", "compose", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def secrets_of(folder: Path) -> dict[str, object]:
    value: dict[str, object] = json.loads((folder / "orthanc-secrets.json").read_text())
    return value


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_without_user_authentication_is_on_with_a_generated_password_never_shown(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "pacs"
    status, out, err = compose(capsys, str(folder))
    assert status == 0, err
    users = secrets_of(folder)["RegisteredUsers"]
    assert isinstance(users, dict) and list(users) == ["kkorthanc"]
    password = users["kkorthanc"]
    assert len(password) >= 32
    config = json.loads((folder / "orthanc.json").read_text())
    assert config["AuthenticationEnabled"] is True
    assert config["RemoteAccessAllowed"] is True  # every client comes through docker's bridge
    assert "RegisteredUsers" not in config
    assert (folder / "kkorthanc-password").read_text() == password + "\n"
    for text in (out, err, (folder / "docker-compose.yml").read_text(), json.dumps(config)):
        assert password not in text
    assert "ORTHANC_USERNAME=kkorthanc" in err
    assert f"ORTHANC_PASSWORD_FILE={folder / 'kkorthanc-password'}" in err
    service = yaml.safe_load((folder / "docker-compose.yml").read_text())["services"]["orthanc"]
    assert service["ports"] == ["127.0.0.1:8042:8042", "127.0.0.1:4242:4242"]


def test_the_image_reads_the_secrets_file_and_does_not_log_the_configuration(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert compose(capsys, str(tmp_path), "--user", "alice:s3cret-pw")[0] == 0
    document = yaml.safe_load((tmp_path / "docker-compose.yml").read_text())
    service = document["services"]["orthanc"]
    # orthancteam/orthanc merges /run/secrets/*.json into its configuration
    assert service["secrets"] == ["orthanc-secrets.json"]
    assert document["secrets"]["orthanc-secrets.json"] == {"file": "./orthanc-secrets.json"}
    assert "VERBOSE_STARTUP" not in service["environment"]  # would log every password
    assert "s3cret-pw" not in (tmp_path / "docker-compose.yml").read_text()
    assert "s3cret-pw" not in (tmp_path / "orthanc.json").read_text()
    assert secrets_of(tmp_path)["RegisteredUsers"] == {"alice": "s3cret-pw"}


def test_every_file_is_private_and_the_folder_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "pacs"
    status, out, _ = compose(capsys, str(folder), "--postgres", "local", "--plugin", "kk")
    assert status == 0
    assert mode(folder) == 0o700
    assert mode(folder / "db") == 0o700
    files = sorted(path for path in folder.iterdir() if path.is_file())
    assert {path.name for path in files} >= {
        "docker-compose.yml",
        "orthanc.json",
        "orthanc-secrets.json",
        "kkorthanc-password",
        "postgres-password",
        "kkorthanc_plugin.py",
    }
    assert {path: mode(path) for path in files} == dict.fromkeys(files, 0o600)
    assert sorted(Path(line) for line in out.split()) == files


def test_an_existing_open_folder_is_made_private(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "pacs"
    folder.mkdir(mode=0o755)
    (folder / "orthanc.json").write_text("{}")
    (folder / "orthanc.json").chmod(0o644)
    assert compose(capsys, str(folder))[0] == 0
    assert (mode(folder), mode(folder / "orthanc.json")) == (0o700, 0o600)


def test_local_postgres_has_a_generated_password_kept_in_a_private_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, err = compose(capsys, str(tmp_path), "--postgres", "local")
    assert status == 0, err
    password = (tmp_path / "postgres-password").read_text().strip()
    assert len(password) >= 32
    document = yaml.safe_load((tmp_path / "docker-compose.yml").read_text())
    database = document["services"]["postgres"]
    assert "ports" not in database  # reachable from the orthanc service only
    assert database["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres-password"
    assert "POSTGRES_PASSWORD" not in database["environment"]
    assert database["secrets"] == ["postgres-password"]
    assert document["secrets"]["postgres-password"] == {"file": "./postgres-password"}
    section = secrets_of(tmp_path)["PostgreSQL"]
    assert section == {"ConnectionUri": f"postgresql://orthanc:{password}@postgres:5432/orthanc"}
    config = json.loads((tmp_path / "orthanc.json").read_text())
    assert "ConnectionUri" not in config["PostgreSQL"]
    assert config["PostgreSQL"]["EnableIndex"] is True
    every_text = [
        out,
        err,
        *(p.read_text() for p in (tmp_path / "docker-compose.yml", tmp_path / "orthanc.json")),
    ]
    for text in every_text:
        assert password not in text
        assert "orthanc:orthanc@" not in text
        assert '"POSTGRES_PASSWORD": "orthanc"' not in text


def test_an_external_postgres_uri_goes_to_the_secrets_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    uri_file = tmp_path / "dsn"
    uri_file.write_text("postgresql://orthanc:db-s3cret@db.example:5432/pacs\n")
    folder = tmp_path / "pacs"
    status, out, err = compose(capsys, str(folder), "--postgres-file", str(uri_file))
    assert status == 0, err
    assert secrets_of(folder)["PostgreSQL"] == {
        "ConnectionUri": "postgresql://orthanc:db-s3cret@db.example:5432/pacs"
    }
    for text in (
        out,
        err,
        (folder / "docker-compose.yml").read_text(),
        (folder / "orthanc.json").read_text(),
    ):
        assert "db-s3cret" not in text


def test_a_rerun_keeps_the_generated_passwords(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert compose(capsys, str(tmp_path), "--postgres", "local")[0] == 0
    first = secrets_of(tmp_path), (tmp_path / "postgres-password").read_text()
    assert compose(capsys, str(tmp_path), "--postgres", "local", "--http-port", "8043")[0] == 0
    assert (secrets_of(tmp_path), (tmp_path / "postgres-password").read_text()) == first
    assert json.loads((tmp_path / "orthanc.json").read_text())["HttpPort"] == 8043
    assert compose(capsys, str(tmp_path), "--postgres", "local", "--user", "bob:other-pw")[0] == 0
    assert secrets_of(tmp_path)["RegisteredUsers"] == {"bob": "other-pw"}  # given users replace
    assert (tmp_path / "postgres-password").read_text() == first[1]  # the cluster's stays


def test_a_cluster_without_its_password_is_refused_not_given_a_new_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "postgres").mkdir()  # made by an earlier version, with the password 'orthanc'
    status, _, err = compose(capsys, str(tmp_path), "--postgres", "local")
    assert status == 2
    assert "postgres-password" in err
    assert not (tmp_path / "docker-compose.yml").exists()


def test_a_planted_link_is_replaced_not_followed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder, outside = tmp_path / "pacs", tmp_path / "outside.txt"
    folder.mkdir(mode=0o700)
    outside.write_text("keep me\n")
    for name in ("docker-compose.yml", "kkorthanc-password"):
        (folder / name).symlink_to(outside)
    status, _, err = compose(capsys, str(folder))
    assert status == 0, err
    assert outside.read_text() == "keep me\n"
    for name in ("docker-compose.yml", "kkorthanc-password"):
        assert not (folder / name).is_symlink()
        assert mode(folder / name) == 0o600


@pytest.mark.parametrize("name", ["orthanc-secrets.json", "orthanc.json", "postgres-password"])
def test_a_file_read_back_for_its_secrets_is_never_a_link(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    folder, outside = tmp_path / "pacs", tmp_path / "planted.json"
    folder.mkdir(mode=0o700)
    outside.write_text(json.dumps({"RegisteredUsers": {"planted": "known-pw"}}))
    (folder / name).symlink_to(outside)
    status, _, err = compose(capsys, str(folder), "--postgres", "local")
    assert status == EXIT_LOCAL_SERVER
    assert "symbolic link" in err
    assert not (folder / "docker-compose.yml").exists()


def test_no_auth_and_authentication_turned_off_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for extra in (["--no-auth"], ["--set", "AuthenticationEnabled=false"]):
        status, _, err = compose(capsys, str(tmp_path / "x"), *extra)
        assert status == 2, extra
        assert "authentication" in err
        assert not (tmp_path / "x").exists()


def test_remote_publishes_every_interface_with_authentication_and_a_warning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = compose(capsys, str(tmp_path), "--remote", "--user", "alice")
    assert status == 0, err
    assert "clear text" in err
    service = yaml.safe_load((tmp_path / "docker-compose.yml").read_text())["services"]["orthanc"]
    assert service["ports"] == ["8042:8042", "4242:4242"]
    assert json.loads((tmp_path / "orthanc.json").read_text())["AuthenticationEnabled"] is True
    password = secrets_of(tmp_path)["RegisteredUsers"]["alice"]  # type: ignore[index]
    assert len(password) >= 32
    assert password not in err


@pytest.fixture
def nobody() -> int:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a folder to another account")
    return pwd.getpwnam("nobody").pw_uid


def test_a_folder_owned_by_another_account_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, nobody: int
) -> None:
    folder = tmp_path / "pacs"
    folder.mkdir(mode=0o700)
    os.chown(folder, nobody, -1)
    status, _, err = compose(capsys, str(folder))
    assert status == EXIT_LOCAL_SERVER
    assert "another account" in err
    assert list(folder.iterdir()) == []


def test_a_file_planted_by_another_account_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, nobody: int
) -> None:
    folder = tmp_path / "pacs"
    folder.mkdir(mode=0o700)
    planted = folder / "orthanc-secrets.json"
    planted.write_text(json.dumps({"RegisteredUsers": {"planted": "known-pw"}}))
    os.chown(planted, nobody, -1)
    status, _, err = compose(capsys, str(folder))
    assert status == EXIT_LOCAL_SERVER
    assert "another account" in err
    assert not (folder / "docker-compose.yml").exists()
