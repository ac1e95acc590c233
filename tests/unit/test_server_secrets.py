"""What the launcher shows of a configuration, and whose users it keeps (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path

from kkorthanc.server import ServerOptions, effective_config, redact_config, redact_uri


def test_users_of_a_base_configuration_are_merged_not_put_over_the_options(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"RegisteredUsers": {"a": "b"}, "AuthenticationEnabled": False}))
    options = ServerOptions(tmp_path / "d", users={"c": "d"}, config_file=base)
    config = effective_config(options, check_plugins=False)
    assert config["RegisteredUsers"] == {"a": "b", "c": "d"}
    assert config["AuthenticationEnabled"] is True
    off = effective_config(
        ServerOptions(tmp_path / "d", no_auth=True, config_file=base), check_plugins=False
    )
    assert (off["RegisteredUsers"], off["AuthenticationEnabled"]) == ({}, False)


def test_every_kind_of_password_is_redacted() -> None:
    config = {
        "RegisteredUsers": {"alice": "pw-1"},
        "PostgreSQL": {"ConnectionUri": "postgresql://u:pw-2@db/orthanc", "Password": "pw-3"},
        "OrthancPeers": {"p": ["http://peer/", "bob", "pw-4"], "q": {"Password": "pw-5"}},
        "DicomWeb": {"Servers": {"s": {"Url": "http://x/", "Password": "pw-6"}}},
        "HttpPort": 8042,
    }
    shown = json.dumps(redact_config(config))
    assert "pw-" not in shown and shown.count("***") == 6
    assert '"HttpPort": 8042' in shown and "alice" in shown and "bob" in shown
    assert config["RegisteredUsers"] == {"alice": "pw-1"}  # the original is left alone
    assert redact_uri("host=db password=pw dbname=o") == "host=db password=*** dbname=o"
    assert redact_uri("postgresql:///orthanc?host=/run&user=orthanc") == (
        "postgresql:///orthanc?host=/run&user=orthanc"
    )


def test_the_data_folders_own_configuration_is_never_read_through_a_link(tmp_path: Path) -> None:
    """Root restarting a dropped server checks orthanc.json, then reads it: the account owning
    the folder must not be able to swap a link in between (to a file only root may read)."""
    import pytest

    from kkorthanc.errors import OrthancInputError

    secret = tmp_path / "root-only.json"
    secret.write_text(json.dumps({"RegisteredUsers": {"root": "secret"}}))
    data = tmp_path / "data"
    data.mkdir()
    (data / "orthanc.json").symlink_to(secret)
    with pytest.raises(OrthancInputError, match="cannot read"):
        ServerOptions(data, config_file=data / "orthanc.json").file_config()
    given = tmp_path / "base.json"  # a --config of the user's own may be a link
    given.symlink_to(secret)
    assert ServerOptions(data, config_file=given).file_config()["RegisteredUsers"] == {
        "root": "secret"
    }
