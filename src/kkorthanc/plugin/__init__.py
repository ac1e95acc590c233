"""The server-side half of KkOrthanc: an Orthanc Python-plugin script with DICOM-identifier routes.

The script, ``kk_routes.py``, runs inside Orthanc (standard library and Orthanc's ``orthanc``
module only): point ``"PythonScript"`` at the path :func:`script_path` returns, or print it with
``python -m kkorthanc.plugin --path``. This package does not import the script.

Example:
    >>> from kkorthanc.plugin import script_path
    >>> script_path().name
    'kk_routes.py'
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_PREFIX", "script_path"]

DEFAULT_PREFIX = "/kk"
"""The route prefix the script uses unless ``"KkOrthanc": {"Prefix": ...}`` says otherwise."""


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
