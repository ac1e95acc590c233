"""Secrets and settings stay where they belong: profiles edited in place, secrets redacted."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from kkorthanc import errors
from kkorthanc._core.config import ClientConfig, resolve_config
from kkorthanc.cli._profiles import load_profile, save_profile

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: a dependency of KkOrthanc there, never skipped
    import tomli as tomllib

BEFORE = """\
# My kkorthanc configuration: keep these comments!
default = "lab"   # the everyday server
retries = [1, 2, {inner = "table"}]
point = { x = 1, y = [2, 3] }

[profiles.lab]
url = "http://old:8042"   # replaced
user = "alice"

# the hospital's PACS, see the wiki
[profiles."hospital"]
url = "https://pacs.example.org/"
ca = '/etc/ssl/hospital.pem'

[[servers]]
name = "first"
tags = ["a", "b"]

[[servers]]
name = "second"

[tools.nested."deep key"]
value = 1979-05-27T07:32:00Z
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "kk" / "config.toml"
    monkeypatch.setenv("KKORTHANC_CONFIG", str(path))
    return path


def test_saving_a_profile_replaces_only_its_table(config: Path) -> None:
    config.parent.mkdir()
    config.write_text(BEFORE)
    settings = {"url": "http://new:8042", "user": "bob", "password": 'p"w\\\x7f', "timeout": 2.5}
    save_profile("lab", settings)
    text = config.read_text()
    head, _, rest = BEFORE.partition("[profiles.lab]")
    kept = rest[rest.index("\n# the hospital") :]
    assert text.startswith(head)
    assert text.endswith(kept)  # the comment above the next table stays with it
    parsed = tomllib.loads(text)
    expected = tomllib.loads(BEFORE)
    expected["profiles"]["lab"] = settings
    assert parsed == expected
    assert load_profile("lab") == settings
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert [p.name for p in config.parent.iterdir()] == ["config.toml"]  # no temporary left


def test_saving_a_new_profile_appends_a_table(config: Path) -> None:
    config.parent.mkdir()
    config.write_text(BEFORE.rstrip("\n"))  # no final newline
    os.chmod(config, 0o644)
    save_profile("new one", {"url": "http://127.0.0.1:8042", "insecure": True})
    text = config.read_text()
    assert text.startswith(BEFORE)
    assert tomllib.loads(text)["profiles"]["new one"] == {
        "url": "http://127.0.0.1:8042",
        "insecure": True,
    }
    assert tomllib.loads(text)["servers"][1] == {"name": "second"}
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_a_profile_that_cannot_be_edited_in_place_is_refused(config: Path) -> None:
    config.parent.mkdir()
    original = '[profiles]\nlab = { url = "http://lab:8042" }  # inline\n'
    config.write_text(original)
    with pytest.raises(errors.OrthancInputError, match=r"\[profiles.lab\] table"):
        save_profile("lab", {"url": "http://other:8042"})
    assert config.read_text() == original


def test_a_symlinked_configuration_is_not_written_through(config: Path, tmp_path: Path) -> None:
    config.parent.mkdir()
    target = tmp_path / "elsewhere.toml"
    target.write_text("# not yours\n")
    config.symlink_to(target)
    with pytest.raises(errors.OrthancInputError, match="symbolic link"):
        save_profile("lab", {"url": "http://lab:8042"})
    assert target.read_text() == "# not yours\n"


def test_a_new_configuration_is_private(config: Path) -> None:
    save_profile("lab", {"url": "http://lab:8042", "password": "s3cret"})
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    assert load_profile("lab") == {"url": "http://lab:8042", "password": "s3cret"}


_CLI_OPTIONS = {
    "url": "http://pacs:8042",
    "user": "alice",
    "password_stdin": False,
    "password_file": None,
    "token": None,
    "token_file": None,
    "insecure": False,
    "ca": None,
    "timeout": None,
    "profile": None,
}


def _resolve_config_from_environment() -> ClientConfig:
    return resolve_config(
        None, auth=None, token=None, headers=None, timeout=5, verify=True, cert=None, retries=0
    )


def test_password_and_token_come_from_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse

    from kkorthanc.cli._context import Context

    monkeypatch.setenv("KKORTHANC_CONFIG", str(tmp_path / "none.toml"))
    secret = tmp_path / "secret"
    secret.write_text("s3 cret\n")
    options = {**_CLI_OPTIONS, "password_file": str(secret)}
    assert Context(argparse.Namespace(**options)).client_options()["auth"] == ("alice", "s3 cret")
    options.update(user=None, password_file=None, token_file=str(secret))
    assert Context(argparse.Namespace(**options)).client_options()["token"] == "s3 cret"
    for name in ("ORTHANC_URL", "ORTHANC_PASSWORD", "ORTHANC_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ORTHANC_USERNAME", "bob")
    monkeypatch.setenv("ORTHANC_PASSWORD_FILE", str(secret))
    config = _resolve_config_from_environment()
    assert config.auth is not None and config.auth_kind == "basic"
    monkeypatch.setenv("ORTHANC_PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(errors.OrthancInputError, match="ORTHANC_PASSWORD_FILE"):
        _resolve_config_from_environment()
