"""The installed package end to end, as a new user runs it: CI runs this on every Python.

`scripts/test-wheel.sh` installs the built wheel on Python 3.10, 3.12 and 3.13 and runs the unit
tests and this file there; the whole suite runs on the main Python. The commands run in
``$KKORTHANC_SMOKE_PYTHON`` when set: a user's environment with nothing but the wheel installed
(pytest's own dependencies, such as tomli on Python 3.10, would hide a missing one).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import kkorthanc
from kkorthanc.server._launcher import free_ports
from kkorthanc.testing import sample_files

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def kk(tmp_path: Path) -> Run:
    """Runs ``python -m kkorthanc ARGS`` as a user would: no ORTHANC_* variables, its own config
    (``tmp_path / "config.toml"``)."""
    env = {"PATH": "/usr/bin:/bin", "KKORTHANC_CONFIG": str(tmp_path / "config.toml")}
    python = os.environ.get("KKORTHANC_SMOKE_PYTHON")
    if not python:  # this environment, with the kkorthanc under test
        python = sys.executable
        env["PYTHONPATH"] = str(Path(kkorthanc.__file__).parent.parent)

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [python, "-m", "kkorthanc", *argv]
        return subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=120, check=False
        )

    return run


def test_start_with_a_saved_profile_then_upload_and_tree_through_it(
    kk: Run, data_dir: Path, where: list[str], tmp_path: Path
) -> None:
    """`server start --save-profile` writes TOML that this Python reads back (tomli on 3.10):
    `upload` and `tree` reach the server through the profile alone, no ORTHANC_* variables."""
    http_port, dicom_port = free_ports(2)
    ports = ["--http-port", str(http_port), "--dicom-port", str(dicom_port)]
    started = kk(
        "server", "start", "--data", str(data_dir), *where, *ports, "--save-profile", "smoke"
    )
    assert started.returncode == 0, started.stderr
    assert os.stat(tmp_path / "config.toml").st_mode & 0o077 == 0
    uploaded = kk("--profile", "smoke", "upload", *map(str, sample_files()[:3]))
    assert uploaded.returncode == 0, uploaded.stderr
    tree = kk("--profile", "smoke", "tree")
    assert tree.returncode == 0, tree.stderr
    assert tree.stdout.count("Patient PatientID=") == 3
    assert kk("server", "stop", "--data", str(data_dir)).returncode == 0
