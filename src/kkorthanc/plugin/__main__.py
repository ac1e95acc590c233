"""``python -m kkorthanc.plugin --path``: print the plugin script's absolute path.

Example:
    >>> main(["--path"])  # doctest: +SKIP
    /.../site-packages/kkorthanc/plugin/kk_routes.py
    0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import script_path


def main(argv: Sequence[str] | None = None) -> int:
    """Print the script's path (``--path``) for Orthanc's ``"PythonScript"`` option.

    Args:
        argv: The arguments (default: the command line's).

    Returns:
        The exit status: 0.

    Raises:
        SystemExit: Unknown arguments (argparse's usage error, status 2).

    Example:
        >>> main(["--path"])  # doctest: +SKIP
        0
    """
    parser = argparse.ArgumentParser(
        prog="python -m kkorthanc.plugin",
        description="The KkOrthanc Orthanc Python-plugin script (DICOM-identifier routes).",
    )
    parser.add_argument("--path", action="store_true", help="print the script's absolute path")
    parser.parse_args(argv)
    sys.stdout.write(f"{script_path()}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
