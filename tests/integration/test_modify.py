"""Modify at patient, study, series and instance level, on real servers."""

from __future__ import annotations

import io
from typing import Any

import pydicom
import pytest
from _ops_data import class_name, ct_bytes, resource, upload

from kkorthanc._core.levels import Level
from kkorthanc.errors import ForceRequiredError, NotFoundError, OrthancInputError


@pytest.mark.parametrize("level", [Level.PATIENT, Level.STUDY, Level.SERIES])
def test_modify_returns_new_fetched_resource_and_keeps_original(client: Any, level: Level) -> None:
    answer = upload(client, ct_bytes(PatientID="MOD1", StudyDescription="before"))
    original = resource(client, level, answer[f"Parent{level.value}"])
    replace = {"InstitutionName": "New place"}
    if level is Level.PATIENT:  # Orthanc: modifying a patient must change its PatientID
        replace["PatientID"] = "MOD1-NEW"
    modified = original.modify(replace=replace, force=level is Level.PATIENT, asynchronous=False)
    assert class_name(modified) == class_name(original)
    assert modified.id != original.id
    assert modified.raw["ID"] == modified.id  # fetched
    client.get(original.path())  # the original is kept by default
    instance_id = client.get(modified.path("instances"))[0]["ID"]
    tags = client.get(("instances", instance_id, "simplified-tags"))
    assert tags["InstitutionName"] == "New place"


def test_modify_as_job_gives_the_same_result(client: Any) -> None:
    answer = upload(client, ct_bytes(PatientID="MOD2"))
    study = resource(client, Level.STUDY, answer["ParentStudy"])
    modified = study.modify(replace={"StudyDescription": "by job"}, asynchronous=True, timeout=60)
    assert modified.raw["MainDicomTags"]["StudyDescription"] == "by job"
    jobs = [job for job in client.jobs.list() if job.type == "ResourceModification"]
    assert any(job.content.get("ID") == modified.id for job in jobs)


def test_modify_with_delete_original_removes_it(client: Any) -> None:
    answer = upload(client, ct_bytes(PatientID="MOD3"))
    series = resource(client, Level.SERIES, answer["ParentSeries"])
    modified = series.modify(replace={"SeriesDescription": "x"}, delete_original=True)
    with pytest.raises(NotFoundError):
        client.get(series.path())
    assert client.get(modified.path())["MainDicomTags"]["SeriesDescription"] == "x"


@pytest.mark.parametrize("tag", ["PatientID", "StudyInstanceUID"])
def test_changing_identifiers_without_force_is_refused_with_a_hint(client: Any, tag: str) -> None:
    answer = upload(client, ct_bytes(PatientID="MOD4"))
    study = resource(client, Level.STUDY, answer["ParentStudy"])
    with pytest.raises(ForceRequiredError) as caught:
        study.modify(replace={tag: "1.2.3.4"})
    assert caught.value.status_code == 400
    assert tag in (caught.value.details or "")
    assert "force=True" in str(caught.value)


def test_force_allows_a_new_patient_id(client: Any) -> None:
    answer = upload(client, ct_bytes(PatientID="MOD5"))
    patient = resource(client, Level.PATIENT, answer["ParentPatient"])
    modified = patient.modify(replace={"PatientID": "MOD5-NEW"}, force=True)
    assert modified.raw["MainDicomTags"]["PatientID"] == "MOD5-NEW"


def test_modify_missing_resource_is_not_found(client: Any) -> None:
    study = resource(client, Level.STUDY, upload(client, ct_bytes(PatientID="MOD8"))["ParentStudy"])
    client.delete(study.path())
    with pytest.raises(NotFoundError):
        study.modify(replace={"StudyDescription": "x"}, asynchronous=False)


def test_instance_modified_file_is_bytes_and_stores_nothing(client: Any) -> None:
    answer = upload(client, ct_bytes(PatientID="MOD6"))
    instance = resource(client, Level.INSTANCE, answer["ID"])
    data = instance.modified_file(replace={"PatientName": "CHANGED^NAME"})
    assert pydicom.dcmread(io.BytesIO(data)).PatientName == "CHANGED^NAME"
    assert instance.modified_dataset(remove=["InstitutionName"]).get("InstitutionName") is None
    assert len(client.get("instances")) == 1
    with pytest.raises(ForceRequiredError):
        instance.modified_file(replace={"SOPInstanceUID": "1.2.3"})


def test_bad_arguments_fail_before_any_request(client: Any) -> None:
    answer = upload(client, ct_bytes(PatientID="MOD7"))
    with pytest.raises(OrthancInputError, match="PatientID"):
        resource(client, Level.PATIENT, answer["ParentPatient"]).modify(replace={"x": "y"})
    study = resource(client, Level.STUDY, answer["ParentStudy"])
    with pytest.raises(OrthancInputError):
        study.modify(replace={"StudyDescription": "x"}, keep=["StudyDescription"])
    instance = resource(client, Level.INSTANCE, answer["ID"])
    with pytest.raises(OrthancInputError):
        instance.anonymized_file(remove=[""])
    with pytest.raises(OrthancInputError, match="modified_file"):
        instance.modify(replace={"StudyDescription": "x"})
    with pytest.raises(OrthancInputError, match="anonymize"):
        study.anonymized_file()
