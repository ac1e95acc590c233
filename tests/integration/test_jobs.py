"""Server-side jobs: listing, waiting, failures, control, and outputs, on real servers."""

from __future__ import annotations

import socket
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from _ops_data import ct_bytes, upload

from kkorthanc import JobState
from kkorthanc.errors import BadRequestError, JobFailedError, NotFoundError, OrthancInputError
from kkorthanc.server._launcher import free_ports


def _archive_job(client: Any, resources: list[str]) -> Any:
    answer = client.post(
        ("tools", "create-archive"), json={"Resources": resources, "Asynchronous": True}
    )
    return client.jobs.from_answer(answer)


def test_wait_reports_progress_and_the_archive_is_streamed_to_a_file(
    client: Any, tmp_path: Path
) -> None:
    answers = [upload(client, ct_bytes(PatientID=f"JOB{i}")) for i in range(3)]
    job = _archive_job(client, [a["ParentStudy"] for a in answers])
    seen: list[int] = []
    job.wait(timeout=120, progress=lambda info: seen.append(info.progress))
    assert job.state is JobState.SUCCESS and job.progress == 100 and seen[-1] == 100
    assert job.completion_time is not None and job.creation_time is not None
    target = job.download(tmp_path / "out.zip")
    with zipfile.ZipFile(target) as archive:
        assert len([n for n in archive.namelist() if not n.endswith("/")]) == 3
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left


def test_list_and_get(client: Any) -> None:
    job = _archive_job(client, [upload(client, ct_bytes(PatientID="JOB9"))["ID"]]).wait(timeout=60)
    assert job in client.jobs.list()
    assert client.jobs.get(job.id).type == job.type == "Archive"
    assert all(j.state is JobState.SUCCESS for j in client.jobs.list(state="success"))
    with pytest.raises(OrthancInputError):
        client.jobs.list(state="Sleeping")
    with pytest.raises(NotFoundError):
        client.jobs.get("no-such-job")


def test_a_failing_job_raises_with_orthancs_code_and_details(client: Any) -> None:
    answer = upload(client, ct_bytes(PatientID="JOBF"))
    (port,) = free_ports(1)
    modality = client.modalities.configure("closed", aet="NOBODY", host="127.0.0.1", port=port)
    job = modality.c_store_job([answer["ID"]])
    with pytest.raises(JobFailedError) as caught:
        job.wait(timeout=120)
    error = caught.value
    assert error.job_id == job.id and error.job_type == "DicomModalityStore"
    assert error.error_code == 9 and "refused" in error.error_details.lower()
    assert job.state is JobState.FAILURE


def test_resubmit_of_a_failed_job_runs_it_again(client: Any) -> None:
    answer = upload(client, ct_bytes(PatientID="JOBR"))
    (port,) = free_ports(1)
    modality = client.modalities.configure("closed", aet="NOBODY", host="127.0.0.1", port=port)
    job = modality.c_store_job([answer["ID"]])
    with pytest.raises(JobFailedError):
        job.wait(timeout=120)
    job.resubmit()
    with pytest.raises(JobFailedError):
        job.wait(timeout=120)


def test_cancel_pause_and_resume_of_finished_jobs_are_refused_or_harmless(client: Any) -> None:
    job = _archive_job(client, [upload(client, ct_bytes(PatientID="JOBC"))["ID"]]).wait(timeout=60)
    job.pause()  # Orthanc ignores pausing a finished job
    assert job.state is JobState.SUCCESS
    with pytest.raises(BadRequestError):  # "Cannot resume a job that is not paused"
        job.resume()
    with pytest.raises(BadRequestError):
        job.resubmit()  # only failed jobs can be resubmitted
    assert job.wait(timeout=60).state is JobState.SUCCESS


def test_wait_rejects_bad_arguments(client: Any) -> None:
    job = _archive_job(client, [upload(client, ct_bytes(PatientID="JOBA"))["ID"]])
    with pytest.raises(OrthancInputError):
        job.wait(poll=0)


def _until(job: Any, states: set[JobState], seconds: float = 30) -> JobState:
    deadline = time.monotonic() + seconds
    while job.refresh().state not in states:
        assert time.monotonic() < deadline, f"job {job.id} stayed {job.state}"
        time.sleep(0.05)
    return job.state  # type: ignore[no-any-return]


def test_pause_resume_and_cancel_of_a_job_that_has_not_finished(
    orthanc_factory: Any, make_client: Any
) -> None:
    # The stuck C-STORE gives up after DicomScuTimeout; a cancel takes effect only then (1.12.7).
    server = orthanc_factory(extra={"ConcurrentJobs": 1, "DicomScuTimeout": 10})
    client = make_client(server.url, auth=server.auth)
    instance = upload(client, ct_bytes(PatientID="JOBPAUSE"))["ID"]
    with socket.socket() as silent:  # accepts the association's TCP connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        silent_peer = client.modalities.configure(
            "silent", aet="SILENT", host="127.0.0.1", port=silent.getsockname()[1]
        )
        blocking = silent_peer.c_store_job([instance])  # holds the only job slot
        _until(blocking, {JobState.RUNNING})
        waiting = _archive_job(client, [instance])
        assert _until(waiting, {JobState.PENDING}) is JobState.PENDING
        waiting.pause()
        assert _until(waiting, {JobState.PAUSED}) is JobState.PAUSED
        waiting.resume()
        assert _until(waiting, {JobState.PENDING, JobState.RUNNING}) in {
            JobState.PENDING,
            JobState.RUNNING,
        }
        blocking.cancel()
        assert _until(blocking, {JobState.FAILURE}, seconds=60) is JobState.FAILURE
    assert waiting.wait(timeout=60).state is JobState.SUCCESS
