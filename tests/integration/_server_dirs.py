"""Data folders for ``kkorthanc server start`` tests, and the arguments choosing the binary.

One definition for every module that starts servers through the command line: the ``data_dir``
and ``where`` fixtures (``conftest.py``) and the ``base`` folders of the local-user and root
tests, which differ only in who may traverse or list the folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kkorthanc.server import stop_server
from kkorthanc.testing import ServerSpec

__all__ = ["server_folder", "where_args"]


@contextmanager
def server_folder(spec: ServerSpec, prefix: str, mode: int) -> Iterator[Path]:
    """A fresh folder the spec's Orthanc can see (inside its chroot, if any), with ``mode``.

    On exit, every server whose data folder is a child of it is stopped, then it is removed.
    Mode 0o711 lets other accounts (the ``orthanc`` account Orthanc drops to as root,
    PostgreSQL's own user) reach a child they know the name of; 0o755 lets them list it too.
    A URL spec has no binary to start: the test is skipped.
    """
    if spec.binary is None:
        pytest.skip("needs an Orthanc binary, not a URL")
    parent = spec.binary.chroot / "tmp" if spec.binary.chroot else Path("/tmp")
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(root, mode)
    try:
        yield root
    finally:
        for child in root.iterdir() if root.is_dir() else ():
            if (child / "orthanc.json").exists():
                stop_server(child, timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def where_args(spec: ServerSpec) -> list[str]:
    """The ``--orthanc``/``--chroot`` arguments that select the spec's binary."""
    binary = spec.binary
    assert binary is not None
    if binary.chroot is not None:
        return ["--chroot", str(binary.chroot)]
    return ["--orthanc", binary.executable]
