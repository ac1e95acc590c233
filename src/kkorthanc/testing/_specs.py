"""Which Orthanc servers the tests run against: the ``--orthanc`` specs and their defaults.

Re-exported by :mod:`kkorthanc.testing`, which documents the spec forms.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kkorthanc.errors import OrthancInputError

if TYPE_CHECKING:  # imported where used: the pytest plugin imports this package in every run
    from kkorthanc.server._launcher import OrthancBinary

__all__ = ["DEFAULT_CHROOT", "ServerSpec", "parse_server_spec", "select_server_specs"]

DEFAULT_CHROOT = Path("/var/cache/kkorthanc/trixie")
CHROOT_MARKER = ".kkorthanc-ready"
_NAME_PREFIX = re.compile(r"^([A-Za-z0-9_.-]+)=(.+)$")


@dataclass(frozen=True)
class ServerSpec:
    """Which Orthanc a test runs against: a binary to start, or the URL of a running server.

    Attributes:
        name: The test id to use (``NAME=`` prefix), or None to derive it from the version.
        binary: The Orthanc to start, or None for a URL spec.
        url: The existing server's base URL, or None.
        username: The existing server's user name, if any.
        password: The existing server's password, if any (never shown in reprs).

    Example:
        >>> parse_server_spec("old=system")
        ServerSpec(name='old', binary=OrthancBinary(executable='Orthanc', chroot=None), url=None, \
username=None)
    """

    name: str | None = None
    binary: OrthancBinary | None = None
    url: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def test_id(self) -> str:
        """The id shown in test names: the ``NAME=`` prefix, else ``orthanc-<version>``.

        Example:
            >>> parse_server_spec("system").test_id()  # doctest: +SKIP
            'orthanc-1.10.1'
        """
        if self.name:
            return self.name
        if self.binary is None:
            return "orthanc-url"
        from kkorthanc.server._launcher import LauncherError

        try:
            return f"orthanc-{self.binary.version()}"
        except LauncherError:  # not installed: the fixture raises the full error at set-up
            where = self.binary.chroot.name if self.binary.chroot else self.binary.executable
            return f"orthanc-unavailable-{where}"


def parse_server_spec(text: str, environ: Mapping[str, str] | None = None) -> ServerSpec:
    """Parse one server SPEC: ``system``, ``chroot:DIR``, ``path:EXE``, ``url:URL``, ``NAME=SPEC``.

    Args:
        text: The spec.
        environ: Where ``url:`` specs read ``KKORTHANC_TEST_USERNAME``/``_PASSWORD`` (default
            ``os.environ``).

    Raises:
        OrthancInputError: The spec has none of these forms.

    Example:
        >>> parse_server_spec("chroot:/var/cache/kkorthanc/trixie").binary.chroot
        PosixPath('/var/cache/kkorthanc/trixie')
    """
    from kkorthanc.server._launcher import OrthancBinary

    env = os.environ if environ is None else environ
    spec = text.strip()
    name = None
    if (match := _NAME_PREFIX.match(spec)) is not None:
        name, spec = match.group(1), match.group(2)
    kind, _, value = spec.partition(":")
    if spec == "system":
        return ServerSpec(name, OrthancBinary())
    if kind == "chroot" and value:
        return ServerSpec(name, OrthancBinary(chroot=Path(value)))
    if kind == "path" and value:
        return ServerSpec(name, OrthancBinary(executable=value))
    if kind == "url" and value:
        user, password = env.get("KKORTHANC_TEST_USERNAME"), env.get("KKORTHANC_TEST_PASSWORD")
        return ServerSpec(name, None, value, user or None, password or None)
    raise OrthancInputError(
        f"unknown Orthanc server spec {text!r}: expected system, chroot:DIR, path:EXECUTABLE or "
        "url:URL, optionally prefixed by NAME= (e.g. old=system)"
    )


def select_server_specs(
    options: Sequence[str] = (), environ: Mapping[str, str] | None = None
) -> list[ServerSpec]:
    """The servers to test against: ``--orthanc`` values, else the environment, else the default.

    Args:
        options: The ``--orthanc`` values (each may hold several comma-separated specs).
        environ: The environment (default ``os.environ``).

    Raises:
        OrthancInputError: A spec is malformed.

    Example:
        >>> [s.url for s in select_server_specs(environ={"KKORTHANC_TEST_URL": "http://o:8042"})]
        ['http://o:8042']
    """
    env = os.environ if environ is None else environ
    texts = [part for option in options for part in option.split(",") if part.strip()]
    if not texts and env.get("KKORTHANC_TEST_URL"):
        texts = ["url:" + env["KKORTHANC_TEST_URL"]]
    if not texts:
        texts = [t for t in env.get("KKORTHANC_TEST_SERVERS", "").split(",") if t.strip()]
    if not texts:
        return _default_specs()
    return [parse_server_spec(text, env) for text in texts]


def _default_specs() -> list[ServerSpec]:
    from kkorthanc.server._launcher import OrthancBinary

    specs = [ServerSpec(None, OrthancBinary())]
    if (DEFAULT_CHROOT / CHROOT_MARKER).is_file() and os.geteuid() == 0:
        specs.append(ServerSpec(None, OrthancBinary(chroot=DEFAULT_CHROOT)))
    return specs
