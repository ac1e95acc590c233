"""Pytest plugin of KkOrthanc: the Orthanc fixtures (the ``kkorthanc`` pytest11 entry point).

It loads in every pytest run where KkOrthanc is installed, so it stays cheap: it imports only
pytest and the standard library, and it starts no server unless a test requests one of its
fixtures. See :mod:`kkorthanc.testing` for the fixtures and for how servers are selected.

Example:
    >>> def test_auth(orthanc):  # doctest: +SKIP
    ...     assert httpx.get(f"{orthanc.url}/system").status_code == 401
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kkorthanc.testing import OrthancFactory, OrthancServer, ServerSpec

__all__ = [
    "OrthancServerReplaced",
    "orthanc",
    "orthanc_factory",
    "orthanc_server",
    "orthanc_spec",
    "pytest_addoption",
    "pytest_configure",
    "pytest_generate_tests",
    "pytest_runtest_makereport",
]

_SPECS = pytest.StashKey["list[ServerSpec]"]()
_LOG_OFFSETS = pytest.StashKey["dict[int, int]"]()
_MAX_LOG_LINES = 300


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--orthanc SPEC`` (repeatable)."""
    group = parser.getgroup("kkorthanc", "KkOrthanc test servers")
    group.addoption(
        "--orthanc",
        action="append",
        default=[],
        metavar="SPEC",
        help="Orthanc server(s) for the orthanc fixtures: system, chroot:DIR, path:EXECUTABLE or "
        "url:URL, optionally prefixed by NAME= (repeatable; default: system, plus "
        "chroot:/var/cache/kkorthanc/trixie when built). Env: KKORTHANC_TEST_SERVERS, "
        "KKORTHANC_TEST_URL.",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Reject a malformed server selection up front (only when one was given: stays cheap)."""
    if config.getoption("orthanc") or any(
        os.environ.get(name) for name in ("KKORTHANC_TEST_URL", "KKORTHANC_TEST_SERVERS")
    ):
        _selected_specs(config)


def _selected_specs(config: pytest.Config) -> list[ServerSpec]:
    if _SPECS not in config.stash:
        from kkorthanc.errors import OrthancInputError
        from kkorthanc.testing import select_server_specs

        try:
            config.stash[_SPECS] = select_server_specs(config.getoption("orthanc"))
        except OrthancInputError as error:
            raise pytest.UsageError(str(error)) from error
    return config.stash[_SPECS]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that uses an Orthanc fixture once per selected server."""
    if "orthanc_spec" not in metafunc.fixturenames:
        return
    specs = _selected_specs(metafunc.config)
    ids = _unique([spec.test_id() for spec in specs])
    metafunc.parametrize("orthanc_spec", specs, ids=ids, indirect=True, scope="session")


def _unique(ids: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    unique = []
    for test_id in ids:
        seen[test_id] = seen.get(test_id, 0) + 1
        unique.append(test_id if seen[test_id] == 1 else f"{test_id}-{seen[test_id]}")
    return unique


@pytest.fixture(scope="session")
def orthanc_spec(request: pytest.FixtureRequest) -> ServerSpec:
    """The :class:`~kkorthanc.testing.ServerSpec` of the current parametrisation."""
    spec: ServerSpec = request.param
    return spec


@pytest.fixture(scope="session")
def orthanc_server(orthanc_spec: ServerSpec) -> Iterator[OrthancServer]:
    """A session-wide Orthanc (started, with a generated user, or an existing one by URL).

    Raises:
        OrthancNotInstalledError: Orthanc is not installed; the message says how to install it.
        OrthancStartError: It did not start; the message has its log.
    """
    from kkorthanc.testing import OrthancServer

    label = orthanc_spec.name or ""
    if orthanc_spec.url is not None:
        server = OrthancServer.connect(
            orthanc_spec.url,
            username=orthanc_spec.username,
            password=orthanc_spec.password,
            label=label,
        )
    else:
        server = OrthancServer.start(orthanc_spec.binary, label=label)
    with server:
        yield server


@pytest.fixture
def orthanc(orthanc_server: OrthancServer) -> OrthancServer:
    """The session's Orthanc, wiped clean before the test (patients, modalities, peers, jobs).

    A session server that died (its process ended, or it stopped answering) is reported once,
    with its exit status or signal and its log's last lines, and replaced by a fresh one: one
    crash costs the test it happened in, not every test after it.
    """
    _replace_if_dead(orthanc_server)
    orthanc_server.wipe()
    return orthanc_server


def _replace_if_dead(server: OrthancServer) -> None:
    if server.process is None:
        return
    reason = server.health()
    if reason is None:
        return
    old_url = server.url
    tail = server.replace_dead()
    warnings.warn(
        OrthancServerReplaced(
            f"the session's Orthanc {server.label} at {old_url} died ({reason}); a fresh one "
            f"runs at {server.url}. Its log ended with:\n{tail}"
        ),
        stacklevel=2,
    )


class OrthancServerReplaced(UserWarning):
    """The session's Orthanc died during the run and a fresh one replaced it (the message says
    how it ended, with its log's last lines)."""


@pytest.fixture
def orthanc_factory(orthanc_spec: ServerSpec) -> Iterator[OrthancFactory]:
    """Start extra servers: ``orthanc_factory(aet="PEER", auth=False, python_script=path)``.

    They run the same Orthanc as the test's parametrisation (the system's for a URL spec) unless
    given ``binary=``, and stop after the test.
    """
    from kkorthanc.testing import OrthancFactory

    factory = OrthancFactory(orthanc_spec.binary)
    try:
        yield factory
    finally:
        factory.close()


def _servers_of(item: pytest.Item) -> list[OrthancServer]:
    from kkorthanc.testing import OrthancFactory, OrthancServer

    servers: dict[int, OrthancServer] = {}
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, OrthancServer) and value.process is not None:
            servers[id(value)] = value
        elif isinstance(value, OrthancFactory):
            servers.update((id(server), server) for server in value.servers)
    return list(servers.values())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach to a failed test's report what its Orthanc servers logged during the test."""
    report: pytest.TestReport = yield
    if "orthanc_spec" not in getattr(item, "fixturenames", ()):
        return report
    servers = _servers_of(item)
    if report.when == "setup" and report.passed:
        item.stash[_LOG_OFFSETS] = {id(s): s.log_offset() for s in servers}
    elif report.failed:
        offsets = item.stash.get(_LOG_OFFSETS, {})
        for server in servers:
            lines = server.log_text(offsets.get(id(server), 0)).splitlines()[-_MAX_LOG_LINES:]
            if lines:
                title = f"Captured Orthanc log {server.label} ({server.url})"
                report.sections.append((title, "\n".join(lines)))
    return report
