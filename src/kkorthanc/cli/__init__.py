"""The ``kkorthanc`` command line.

``main(argv)`` parses the arguments, runs one command and returns the exit status; the console
script ``kkorthanc`` calls it. Everything goes through the public client,
:class:`kkorthanc.Orthanc`.

Layout:

- ``_app.py``: the parser (it imports every command module) and the one place that turns an
  exception into one line on stderr (a traceback only with ``--debug``).
- ``_command.py``: what command modules build on: the exit statuses, the global options and
  ``add_command``. It imports no command, so commands never import ``_app``.
- ``_context.py``: :class:`Context`, given to every command: ``ctx.client()`` (built from
  ``--url``/``--user``/... then the profile, then ``ORTHANC_*`` variables), ``ctx.rows()`` and
  ``ctx.record()`` (table, JSON or CSV), ``ctx.info()`` (stderr), ``ctx.progress()``,
  ``ctx.confirm()``.
- ``_output.py``, ``_progress.py``, ``_profiles.py``: rendering, progress bars, profiles.
- ``commands/``: one module per command group, listed in ``commands.COMMANDS``.

Adding a command group:

1. Create ``commands/NAME.py`` with a ``register(subparsers)`` function that calls
   ``add_command(subparsers, "name", handler, "one-line summary", "kkorthanc name --example")``
   for each command (``handler=None`` for a group, then add sub-commands to
   ``parser.add_subparsers()`` the same way), and private handlers
   ``def _run_x(ctx: Context) -> int``.
2. Handlers print results only with ``ctx.rows(rows, columns)`` or ``ctx.record(dict)`` (so
   ``--output json|csv`` works; keep the keys stable and document them in docs/cli.md), messages
   with ``ctx.info``, and return an exit status (``EXIT_OK``, or ``EXIT_PARTIAL`` when some
   items failed). They raise KkOrthanc errors, never print them: ``main`` maps them to statuses.
3. Append the module to ``COMMANDS`` in ``commands/__init__.py`` and add tests under
   ``tests/integration/test_cli_NAME.py``.

Example:
    >>> from kkorthanc.cli import main
    >>> main(["--url", "http://localhost:8042", "stats"])  # doctest: +SKIP
    0
"""

from __future__ import annotations

from ._app import main
from ._command import (
    EXIT_AUTH,
    EXIT_CONNECTION,
    EXIT_FILE,
    EXIT_INTERRUPTED,
    EXIT_LOCAL_SERVER,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_SERVER,
    EXIT_USAGE,
)

__all__ = [
    "EXIT_AUTH",
    "EXIT_CONNECTION",
    "EXIT_FILE",
    "EXIT_INTERRUPTED",
    "EXIT_LOCAL_SERVER",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_SERVER",
    "EXIT_USAGE",
    "main",
]
