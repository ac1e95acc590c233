"""The test harness itself: kkorthanc.testing, its pytest plugin, and the private launcher."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from kkorthanc.errors import OrthancInputError
from kkorthanc.server._launcher import (
    ChrootPathError,
    OrthancBinary,
    OrthancNotInstalledError,
    build_config,
)
from kkorthanc.testing import (
    DEFAULT_CHROOT,
    OrthancFactory,
    OrthancServer,
    ServerSpec,
    parse_server_spec,
    sample_files,
    select_server_specs,
)

HELLO_SCRIPT = """
import orthanc

def hello(output, uri, **request):
    orthanc.LogWarning("kk-hello called")
    output.AnswerBuffer(b"hello from " + orthanc.GetConfigurationPath().encode(), "text/plain")

orthanc.RegisterRestCallback("/kk/hello", hello)
"""


def _upload(server: OrthancServer, paths: list[Path]) -> list[dict[str, str]]:
    with server.client() as http:
        answers = [http.post("/instances", content=path.read_bytes()) for path in paths]
    for answer in answers:
        answer.raise_for_status()
    return [answer.json() for answer in answers]


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*args, "-p", "no:cacheprovider", "-p", "no:asyncio")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in _proc_state(pid)


def _proc_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[0]


# --- servers start, on every selected version -------------------------------------------------


def test_server_runs_the_selected_binary(orthanc_server: OrthancServer) -> None:
    if orthanc_server.binary is None:
        pytest.skip("an existing server (KKORTHANC_TEST_URL): nothing was started")
    assert orthanc_server.version == orthanc_server.binary.version()
    assert orthanc_server.api_version > 0
    assert orthanc_server.aet == "ORTHANC"
    assert orthanc_server.url.startswith("http://127.0.0.1:")
    assert orthanc_server.data_dir is not None
    assert orthanc_server.data_dir.is_dir()


def test_both_versions_are_selected_by_default() -> None:
    if not (DEFAULT_CHROOT / ".kkorthanc-ready").is_file() or os.geteuid() != 0:
        pytest.skip("the Debian 13 chroot is not built (sudo bash scripts/install-servers.sh)")
    specs = select_server_specs(environ={})
    assert [spec.binary.chroot if spec.binary else None for spec in specs] == [None, DEFAULT_CHROOT]
    assert [spec.test_id() for spec in specs] == ["orthanc-1.10.1", "orthanc-1.12.7"]


def test_authentication_is_enforced(orthanc: OrthancServer) -> None:
    if orthanc.binary is None and orthanc.username is None:
        pytest.skip("an existing server without authentication (KKORTHANC_TEST_URL)")
    assert orthanc.username
    assert orthanc.password
    assert httpx.get(f"{orthanc.url}/system").status_code == 401
    assert httpx.get(f"{orthanc.url}/system", auth=(orthanc.username, "wrong")).status_code == 401
    answer = httpx.get(f"{orthanc.url}/system", auth=orthanc.auth)
    assert answer.status_code == 200
    assert answer.json()["Version"] == orthanc.version


# --- the orthanc fixture starts every test from a clean server -------------------------------


@pytest.mark.parametrize("round_", [1, 2])
def test_orthanc_fixture_starts_clean(orthanc: OrthancServer, round_: int) -> None:
    # Whichever round runs second proves that the first one's data was wiped.
    with orthanc.client() as http:
        assert http.get("/patients").json() == []
        assert http.get("/modalities").json() == []
        assert http.get("/peers").json() == []
        http.put("/modalities/kk-left", json={"AET": "LEFT", "Host": "127.0.0.1", "Port": 1})
        http.put("/peers/kk-left", json={"Url": "http://127.0.0.1:1/"})
    _upload(orthanc, sample_files())


def test_sample_files_are_all_stored(orthanc: OrthancServer) -> None:
    paths = sample_files()
    names = [path.name for path in paths]
    for required in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "chrX1.dcm"):
        assert required in names
    answers = _upload(orthanc, paths)
    assert {answer["Status"] for answer in answers} == {"Success"}
    with orthanc.client() as http:
        statistics = http.get("/statistics").json()
        names_stored = {
            http.get(f"/patients/{p}").json()["MainDicomTags"]["PatientName"]
            for p in http.get("/patients").json()
        }
    assert statistics["CountPatients"] == statistics["CountStudies"] == len(paths)
    assert "Wang^XiaoDong=王^小東=" in names_stored


# --- the factory ------------------------------------------------------------------------------


def test_factory_gives_an_independent_dicom_peer(
    orthanc: OrthancServer, orthanc_factory: OrthancFactory
) -> None:
    peer = orthanc_factory(aet="KKPEER", auth=False)
    assert (peer.url, peer.dicom_port) != (orthanc.url, orthanc.dicom_port)
    assert peer.aet == "KKPEER"
    assert peer.version == orthanc.version
    assert httpx.get(f"{peer.url}/system").status_code == 200
    ct_id = _upload(orthanc, sample_files()[:1])[0]["ID"]
    with orthanc.client() as http, peer.client() as peer_http:
        assert peer_http.get("/instances").json() == []
        modality = {"AET": peer.aet, "Host": "127.0.0.1", "Port": peer.dicom_port}
        http.put("/modalities/kkpeer", json=modality).raise_for_status()
        http.post("/modalities/kkpeer/echo", json={}).raise_for_status()
        store = {"Resources": [ct_id], "Synchronous": True}
        http.post("/modalities/kkpeer/store", json=store).raise_for_status()
        assert peer_http.get("/instances").json() == [ct_id]


def test_factory_loads_the_python_plugin(orthanc_factory: OrthancFactory, tmp_path: Path) -> None:
    script = tmp_path / "hello.py"
    script.write_text(HELLO_SCRIPT, encoding="utf-8")
    server = orthanc_factory(python_script=script, aet="SCRIPTED")
    start = server.log_offset()
    with server.client() as http:
        answer = http.get("/kk/hello")
    assert answer.status_code == 200
    assert answer.text.startswith("hello from ")
    assert "kk-hello called" in server.log_text(start)


def test_factory_stops_its_servers_and_deletes_their_data() -> None:
    factory = OrthancFactory()
    server = factory(auth=False)
    assert server.process is not None
    assert server.data_dir is not None
    pid, data_dir = server.process.pid, server.data_dir
    assert _pid_alive(pid)
    factory.close()
    assert not _pid_alive(pid)
    assert not data_dir.exists()
    assert factory.servers == []


def test_connect_to_an_existing_server_keeps_its_own_modalities(
    orthanc_factory: OrthancFactory,
) -> None:
    modality = {"AET": "KEEP", "Host": "127.0.0.1", "Port": 104}
    started = orthanc_factory(extra={"DicomModalities": {"keep": modality}})
    existing = OrthancServer.connect(
        started.url, username=started.username, password=started.password
    )
    assert existing.process is None
    assert existing.version == started.version
    _upload(existing, sample_files()[:2])
    with existing.client() as http:
        http.put("/modalities/added", json={**modality, "AET": "ADDED"}).raise_for_status()
        existing.wipe()
        assert http.get("/patients").json() == []
        assert http.get("/modalities").json() == ["keep"]
    assert existing.log_text() == ""


# --- logs of failing tests ---------------------------------------------------------------------


def test_failing_test_report_carries_the_server_log(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx

        def test_upload_garbage(orthanc):
            with orthanc.client() as http:
                http.post("/instances", content=b"not a DICOM file")
            assert False, "fails on purpose"
        """
    )
    result = _run(pytester, "--orthanc", "system")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Captured Orthanc log orthanc-*", "*Bad file format*"])
    assert "DICOM server listening" not in result.stdout.str()  # only the test's own lines


def test_passing_test_report_has_no_server_log(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_fine(orthanc):\n    assert orthanc.url\n")
    result = _run(pytester, "--orthanc", "named=system", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_fine?named? PASSED*"])
    assert "Captured Orthanc log" not in result.stdout.str()


# --- launcher errors ---------------------------------------------------------------------------


def test_missing_binary_says_how_to_install_orthanc() -> None:
    with pytest.raises(OrthancNotInstalledError) as raised:
        OrthancServer.start(OrthancBinary("KkNoSuchOrthanc"))
    assert "sudo bash scripts/install-servers.sh" in str(raised.value)
    assert "apt-get install orthanc" in str(raised.value)


def test_missing_chroot_binary_is_reported(tmp_path: Path) -> None:
    with pytest.raises(OrthancNotInstalledError, match="inside the chroot"):
        OrthancBinary(chroot=tmp_path).version()


def test_missing_binary_errors_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_needs_server(orthanc_server):\n    pass\n")
    result = _run(pytester, "--orthanc", "path:/nonexistent/Orthanc")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*OrthancNotInstalledError*install-servers.sh*"])


def test_bad_server_spec_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_needs_server(orthanc):\n    pass\n")
    result = _run(pytester, "--orthanc", "docker:orthanc")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown Orthanc server spec 'docker:orthanc'*"])


def test_chroot_refuses_paths_outside_it(tmp_path: Path) -> None:
    binary = OrthancBinary(chroot=DEFAULT_CHROOT)
    assert binary.inner_path(DEFAULT_CHROOT / "tmp" / "data") == "/tmp/data"
    assert binary.host_path("/tmp/data") == DEFAULT_CHROOT / "tmp" / "data"
    with pytest.raises(ChrootPathError, match="outside the chroot") as raised:
        binary.inner_path(tmp_path)
    assert isinstance(raised.value, ValueError)
    with pytest.raises(ChrootPathError):
        build_config(tmp_path, http_port=1, dicom_port=2, binary=binary)
    with pytest.raises(ChrootPathError):
        OrthancServer.start(binary, base_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- server selection --------------------------------------------------------------------------


def test_server_specs_parse() -> None:
    env = {"KKORTHANC_TEST_USERNAME": "alice", "KKORTHANC_TEST_PASSWORD": "secret"}
    assert parse_server_spec("system") == ServerSpec(None, OrthancBinary())
    assert parse_server_spec("new=chroot:/srv/trixie") == ServerSpec(
        "new", OrthancBinary(chroot=Path("/srv/trixie"))
    )
    assert parse_server_spec("path:/opt/Orthanc") == ServerSpec(None, OrthancBinary("/opt/Orthanc"))
    url_spec = parse_server_spec("url:http://pacs:8042/orthanc/?a=b", env)
    assert (url_spec.url, url_spec.username, url_spec.password) == (
        "http://pacs:8042/orthanc/?a=b",
        "alice",
        "secret",
    )
    assert "secret" not in repr(url_spec)
    with pytest.raises(OrthancInputError, match="unknown Orthanc server spec"):
        parse_server_spec("chroot:")


def test_server_selection_precedence() -> None:
    env = {"KKORTHANC_TEST_URL": "http://u:1", "KKORTHANC_TEST_SERVERS": "a=system,b=system"}
    assert [s.name for s in select_server_specs(["x=system,y=system"], env)] == ["x", "y"]
    assert [s.url for s in select_server_specs([], env)] == ["http://u:1"]
    del env["KKORTHANC_TEST_URL"]
    assert [s.name for s in select_server_specs([], env)] == ["a", "b"]
    assert select_server_specs([], {})[0] == ServerSpec(None, OrthancBinary())


# --- a session server that dies ----------------------------------------------------------------


def test_a_dead_session_server_costs_one_test(pytester: pytest.Pytester) -> None:
    """A crash used to make every later test error with 'connection refused' (issue 12)."""
    pytester.makepyfile(
        """
        import os, signal
        from kkorthanc.testing import sample_files

        def test_1_crashes_it(orthanc):
            os.kill(orthanc.process.pid, signal.SIGKILL)
            orthanc.process._popen.wait()
            assert False, "the server died under this test"

        def test_2_gets_a_fresh_server(orthanc):
            with orthanc.client() as http:
                assert http.post("/instances", content=sample_files()[0].read_bytes()).is_success
                assert http.get("/statistics").json()["CountInstances"] == 1

        def test_3_and_the_next(orthanc):
            with orthanc.client() as http:
                assert http.get("/patients").json() == []
        """
    )
    result = _run(pytester, "--orthanc", "system", "-W", "default")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*OrthancServerReplaced*died (the process killed by SIGKILL (signal 9))*fresh one*"]
    )


def test_health_names_a_hung_server_and_an_exit_status(orthanc_factory: Any) -> None:
    server = orthanc_factory()
    assert server.health() is None
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        reason = server.health(timeout=1)
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    assert reason is not None and reason.startswith("it stopped answering")
    os.kill(server.process.pid, signal.SIGTERM)
    server.process._popen.wait()
    assert server.health() == "the process exited with status 0"
