"""The installed package end to end, as a new user runs it: CI runs this on every Python.

`scripts/test-wheel.sh` installs the built wheel on Python 3.10, 3.12 and 3.13 and runs the unit
tests and this file there; the whole suite runs on the main Python. The commands run in
``$KKORTHANC_SMOKE_PYTHON`` when set: a user's environment with nothing but the wheel installed
(pytest's own dependencies, such as tomli on Python 3.10, would hide a missing one).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import kkorthanc
from kkorthanc.server import stop_server
from kkorthanc.server._launcher import free_ports
from kkorthanc.testing import ServerSpec, sample_files


@pytest.fixture
def data_dir(orthanc_spec: ServerSpec) -> Iterator[Path]:
    """A fresh data folder that the spec's Orthanc can see (inside its chroot if any)."""
    if orthanc_spec.binary is None:
        pytest.skip("needs an Orthanc binary, not a URL")
    base = orthanc_spec.binary.chroot / "tmp" if orthanc_spec.binary.chroot else Path("/tmp")
    root = Path(tempfile.mkdtemp(prefix="kk-smoke-", dir=base))
    os.chmod(root, 0o711)  # as root, Orthanc runs as the `orthanc` account, which must reach it
    yield root / "data"
    if (root / "data" / "orthanc.json").exists():
        stop_server(root / "data", timeout=10)
    shutil.rmtree(root, ignore_errors=True)


def where(spec: ServerSpec) -> list[str]:
    """The --orthanc/--chroot arguments that select the spec's binary."""
    assert spec.binary is not None
    if spec.binary.chroot is not None:
        return ["--chroot", str(spec.binary.chroot)]
    return ["--orthanc", spec.binary.executable]


def test_start_with_a_saved_profile_then_upload_and_tree_through_it(
    orthanc_spec: ServerSpec, data_dir: Path, tmp_path: Path
) -> None:
    """`server start --save-profile` writes TOML that this Python reads back (tomli on 3.10):
    `upload` and `tree` reach the server through the profile alone, no ORTHANC_* variables."""
    env = {"PATH": "/usr/bin:/bin", "KKORTHANC_CONFIG": str(tmp_path / "config.toml")}
    python = os.environ.get("KKORTHANC_SMOKE_PYTHON")
    if not python:  # this environment, with the kkorthanc under test
        python = sys.executable
        env["PYTHONPATH"] = str(Path(kkorthanc.__file__).parent.parent)

    def kk(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [python, "-m", "kkorthanc", *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    http_port, dicom_port = free_ports(2)
    started = kk(
        "server",
        "start",
        "--data",
        str(data_dir),
        *where(orthanc_spec),
        "--http-port",
        str(http_port),
        "--dicom-port",
        str(dicom_port),
        "--save-profile",
        "smoke",
    )
    assert started.returncode == 0, started.stderr
    assert os.stat(env["KKORTHANC_CONFIG"]).st_mode & 0o077 == 0
    uploaded = kk("--profile", "smoke", "upload", *map(str, sample_files()[:3]))
    assert uploaded.returncode == 0, uploaded.stderr
    tree = kk("--profile", "smoke", "tree")
    assert tree.returncode == 0, tree.stderr
    assert tree.stdout.count("Patient PatientID=") == 3
    assert kk("server", "stop", "--data", str(data_dir)).returncode == 0
