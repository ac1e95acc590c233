"""What every command gets: its arguments, a client built from the global options, and outputs."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import kkorthanc

from .._core.config import read_secret_file, secret_from_environment
from ..errors import InsecureTransportWarning, OrthancInputError
from ._output import render_record, render_rows
from ._profiles import load_profile
from ._progress import Progress

__all__ = ["Context"]


class Context:
    """One run of the command line.

    Attributes:
        args: The parsed arguments (global options included).
        stdout: Where results go.
        stderr: Where messages and progress go.
        stdin: Where ``--password-stdin`` and confirmations are read.

    Raises:
        Nothing when built; its methods document their own errors.

    Example:
        >>> def _run_count(ctx: Context) -> int:  # a command handler
        ...     ctx.record({"patients": len(ctx.client().patients.list())})
        ...     return EXIT_OK
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stdout: TextIO = sys.stdout
        self.stderr: TextIO = sys.stderr
        self.stdin: TextIO = sys.stdin
        self._client: kkorthanc.Orthanc | None = None

    def option(self, name: str, default: Any = None) -> Any:
        """A global or command option, ``default`` when not given."""
        return getattr(self.args, name, default)

    @property
    def output(self) -> str:
        """The output format: ``table``, ``json`` or ``csv``."""
        return str(self.option("output") or "table")

    @property
    def quiet(self) -> bool:
        """Whether messages and progress are silenced."""
        return bool(self.option("quiet"))

    @property
    def server_url(self) -> str | None:
        """The base URL of the client, once one was created (for error messages)."""
        return self._client.url if self._client is not None else None

    def client(self) -> kkorthanc.Orthanc:
        """The client of the selected server, created on first use.

        Raises:
            OrthancInputError: Contradictory options, a missing profile or password.

        Example:
            >>> ctx.client().statistics().count_patients  # doctest: +SKIP
            3
        """
        if self._client is None:
            options = self.client_options()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", InsecureTransportWarning)
                self._client = kkorthanc.Orthanc(**options)
            self._pass_on(caught, self._client.url)
        return self._client

    def _pass_on(self, caught: list[warnings.WarningMessage], url: str) -> None:
        """One stderr line for disabled TLS verification (even with ``--quiet``); any other
        warning goes on as it came."""
        for warning in caught:
            if issubclass(warning.category, InsecureTransportWarning):
                self.stderr.write(
                    f"kkorthanc: warning: TLS certificate verification is off for {url} "
                    f"(--insecure, or insecure = true in the profile): anyone on the network path "
                    f"can read and change this traffic; trust its certificate with --ca FILE\n"
                )
                self.stderr.flush()
            else:
                warnings.warn_explicit(
                    warning.message, warning.category, warning.filename, warning.lineno
                )

    def client_options(self) -> dict[str, Any]:
        """The client's constructor arguments: options, then profile, then ORTHANC_* variables.

        Raises:
            OrthancInputError: Contradictory options, a missing profile or password.
        """
        explicit = self.option("profile") or os.environ.get("KKORTHANC_PROFILE")
        use_default = explicit is None and "ORTHANC_URL" not in os.environ
        profile = load_profile(explicit) if explicit or use_default else {}
        url = self.option("url") or profile.get("url")
        user = self.option("user") or profile.get("user")
        token = self._token(profile)
        options: dict[str, Any] = {"url": url}
        if user:
            options["auth"] = (user, self._password(profile))
        if token:
            options["token"] = token
        options["verify"] = self._verify(profile)
        timeout = self.option("timeout") or profile.get("timeout")
        if timeout is not None:
            options["timeout"] = float(timeout)
        return options

    def _token(self, profile: Mapping[str, Any]) -> str | None:
        if self.option("token_file"):
            return read_secret_file(self.option("token_file"), "--token-file")
        token = self.option("token") or profile.get("token")
        return str(token) if token else None

    def _password(self, profile: Mapping[str, Any]) -> str:
        if self.option("password_stdin"):
            line = self.stdin.readline().rstrip("\r\n")
            if not line:
                raise OrthancInputError("--password-stdin read an empty line")
            return line
        if self.option("password_file"):
            return read_secret_file(self.option("password_file"), "--password-file")
        password = profile.get("password") or secret_from_environment("ORTHANC_PASSWORD")
        if password:
            return str(password)
        if self.stdin.isatty():
            return getpass.getpass(f"Password for {self.option('user')}: ")
        raise OrthancInputError(
            "--user needs a password: pipe it with --password-stdin, name a file with "
            "--password-file, set ORTHANC_PASSWORD(_FILE), or store it in a profile"
        )

    def _verify(self, profile: Mapping[str, Any]) -> bool | str:
        if self.option("insecure") or profile.get("insecure"):
            return False
        ca = self.option("ca") or profile.get("ca")
        return str(ca) if ca else True

    def close(self) -> None:
        """Close the client, if one was created."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def rows(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
        """Print rows in the selected format."""
        render_rows(rows, columns, self.output, self.stdout)

    def record(self, record: Mapping[str, Any]) -> None:
        """Print one object in the selected format."""
        render_record(record, self.output, self.stdout)

    def info(self, message: str) -> None:
        """A message for humans on stderr (silenced by ``--quiet``)."""
        if not self.quiet:
            self.stderr.write(message + "\n")
            self.stderr.flush()

    def progress(self, label: str, total: int | None) -> Progress:
        """A progress display on stderr: a bar on a terminal, plain lines otherwise."""
        tty = bool(getattr(self.stderr, "isatty", lambda: False)())
        return Progress(label, total, self.stderr, enabled=not self.quiet, tty=tty)

    def confirm(self, question: str) -> bool:
        """Ask a yes/no question on the terminal; ``--yes`` answers yes.

        Raises:
            OrthancInputError: stdin is not a terminal and ``--yes`` was not given.

        Example:
            >>> if not ctx.confirm("Delete 3 studies?"):  # doctest: +SKIP
            ...     return EXIT_USAGE
        """
        if self.option("yes"):
            return True
        if not self.stdin.isatty():
            raise OrthancInputError(f"{question} needs confirmation: add --yes (no terminal)")
        self.stderr.write(f"{question} [y/N] ")
        self.stderr.flush()
        return self.stdin.readline().strip().lower() in ("y", "yes")
