"""The server-side half of KkOrthanc: an Orthanc Python-plugin script with DICOM-identifier routes.

The script, ``kk_routes.py``, runs inside Orthanc (standard library and Orthanc's ``orthanc``
module only) and imports its companion modules from its own folder: point ``"PythonScript"`` at
the path :func:`script_path` returns (print it with ``python -m kkorthanc.plugin --path``), or
copy the set with :func:`install_script` where the server can read it. This package does not
import the script.

Example:
    >>> from kkorthanc.plugin import script_path
    >>> script_path().name
    'kk_routes.py'
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["COMPANIONS", "DEFAULT_PREFIX", "install_script", "script_path"]

DEFAULT_PREFIX = "/kk"
"""The route prefix the script uses unless ``"KkOrthanc": {"Prefix": ...}`` says otherwise."""

COMPANIONS = ("kk_common.py", "kk_lookup.py", "kk_policy.py", "kk_tree.py")
"""The modules the script imports from its own folder: copy them with it."""


def script_path() -> Path:
    """The absolute path of the plugin script to give Orthanc as ``"PythonScript"``.

    Returns:
        The path of ``kk_routes.py`` inside the installed package.

    Raises:
        FileNotFoundError: The installed package lacks the script (a broken installation).

    Example:
        >>> script_path().is_absolute()
        True
    """
    path = Path(__file__).resolve().parent / "kk_routes.py"
    if not path.is_file():
        raise FileNotFoundError(f"the KkOrthanc plugin script is missing: {path}")
    return path


def install_script(directory: Path, name: str = "kk_routes.py") -> Path:
    """Copy the script (as ``name``) and its :data:`COMPANIONS` into ``directory``.

    Use it to give a confined server (a chroot, a container) a copy it can read. The files are
    created readable by their owner only.

    Args:
        directory: The folder (created if missing).
        name: The script's file name there.

    Returns:
        The path of the copied script, for ``"PythonScript"``.

    Raises:
        FileNotFoundError: The installed package lacks a file (a broken installation).
        OSError: The folder cannot be written.

    Example:
        >>> install_script(Path("/var/lib/orthanc/kk")).name  # doctest: +SKIP
        'kk_routes.py'
    """
    source = script_path()
    directory.mkdir(parents=True, exist_ok=True)
    for file_name, target_name in [(c, c) for c in COMPANIONS] + [(source.name, name)]:
        data = (source.parent / file_name).read_bytes()
        target = directory / target_name
        target.unlink(missing_ok=True)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
    return directory / name
