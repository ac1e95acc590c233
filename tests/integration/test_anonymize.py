"""Anonymization on real servers, checked against the basic confidentiality profile."""

from __future__ import annotations

from typing import Any

import pytest
from _ops_data import class_name, ct_bytes, resource, upload

from kkorthanc import check_anonymized
from kkorthanc._core.levels import Level
from kkorthanc.errors import ForceRequiredError, NotFoundError

TAGS = {"PatientID": "ANON1", "PatientName": "DOE^JANE", "InstitutionName": "General Hospital"}


@pytest.mark.parametrize("level", [Level.PATIENT, Level.STUDY, Level.SERIES])
def test_anonymize_gives_a_new_resource_without_identifiers(client: Any, level: Level) -> None:
    answer = upload(client, ct_bytes(**TAGS, StudyDescription="Head CT"))
    original = resource(client, level, answer[f"Parent{level.value}"])
    anonymous = original.anonymize(keep=["StudyDescription"])
    assert class_name(anonymous) == class_name(original) and anonymous.id != original.id
    client.get(original.path())  # kept by default
    instance = client.get(anonymous.path("instances"))[0]["ID"]
    tags = client.get(("instances", instance, "simplified-tags"))
    assert tags["PatientID"] != "ANON1" and tags["PatientName"] != "DOE^JANE"
    assert tags["StudyDescription"] == "Head CT"
    # Orthanc 1.10 keeps InstanceCreationDate/Time (X/D): anonymize() asks for their removal
    assert anonymous.verify_anonymized(keep=["StudyDescription"]) == []
    tags = client.get(("instances", instance, "tags"), params={"short": True})
    assert "0008,0012" not in tags and "0008,0013" not in tags


def test_verify_reports_what_survived(client: Any) -> None:
    answer = upload(client, ct_bytes(**TAGS, StudyDescription="Head CT"))
    study = resource(client, Level.STUDY, answer["ParentStudy"])
    anonymous = study.anonymize(keep=["StudyDescription", "InstitutionName"])
    findings = anonymous.verify_anonymized(keep=())  # () reports the tags kept too
    survivors = {finding.keyword: finding for finding in findings}
    assert set(survivors) == {"StudyDescription", "InstitutionName"}
    assert survivors["InstitutionName"].value == "General Hospital"
    assert survivors["InstitutionName"].reason == "kept its original value"
    assert survivors["StudyDescription"].instance_id is not None


@pytest.mark.parametrize("asynchronous", [False, True])
def test_anonymized_resource_remembers_what_it_kept(client: Any, asynchronous: bool) -> None:
    answer = upload(client, ct_bytes(**TAGS, StudyDescription="Head CT"))
    study = resource(client, Level.STUDY, answer["ParentStudy"])
    keep = ["StudyDescription"]
    # the README's example: the tag kept is not a finding, without saying keep= twice
    anonymous = study.anonymize(
        keep=keep, replace={"PatientName": "Anon"}, asynchronous=asynchronous
    )
    assert anonymous.verify_anonymized() == []
    assert anonymous.anonymized_keep == ("StudyDescription",)
    assert anonymous.refresh().verify_anonymized() == []
    same = client.studies.get(anonymous.id)  # fetched by ID: nothing remembered on the server
    assert same.anonymized_keep == ()
    assert [f.keyword for f in same.verify_anonymized()] == ["StudyDescription"]
    assert same.verify_anonymized(keep=keep) == []


def test_anonymize_as_job_and_delete_original(client: Any) -> None:
    answer = upload(client, ct_bytes(**TAGS))
    study = resource(client, Level.STUDY, answer["ParentStudy"])
    anonymous = study.anonymize(asynchronous=True, delete_original=True, timeout=120)
    with pytest.raises(NotFoundError):
        client.get(study.path())
    assert client.get("studies") == [anonymous.id]
    assert anonymous.verify_anonymized() == []  # the original is gone: X attributes only


def test_replacing_patient_id_needs_force(client: Any) -> None:
    answer = upload(client, ct_bytes(**TAGS))
    study = resource(client, Level.STUDY, answer["ParentStudy"])
    with pytest.raises(ForceRequiredError, match="force=True"):
        study.anonymize(replace={"PatientID": "RESEARCH-7"})
    anonymous = study.anonymize(replace={"PatientID": "RESEARCH-7"}, force=True)
    assert anonymous.raw["PatientMainDicomTags"]["PatientID"] == "RESEARCH-7"


def test_anonymizing_a_missing_resource_is_not_found(client: Any) -> None:
    study = resource(client, Level.STUDY, upload(client, ct_bytes(**TAGS))["ParentStudy"])
    client.delete(study.path())
    with pytest.raises(NotFoundError):
        study.anonymize()


def test_instance_anonymized_dataset_passes_the_profile_check(client: Any) -> None:
    answer = upload(client, ct_bytes(**TAGS))
    instance = resource(client, Level.INSTANCE, answer["ID"])
    dataset = instance.anonymized_dataset()
    original = client.get(("instances", answer["ID"], "tags"), params={"short": True})
    assert check_anonymized(dataset, original=original) == []
    assert "PatientName" in {f.keyword for f in check_anonymized(original, original=original)}
    assert len(client.get("instances")) == 1  # nothing stored


def test_bulk_anonymize_modify_and_delete(client: Any) -> None:
    studies = [upload(client, ct_bytes(PatientID=f"BULK{i}"))["ParentStudy"] for i in range(3)]
    new = client.bulk_anonymize(studies, timeout=120)
    assert len(new["Study"]) == 3 and not set(new["Study"]) & set(studies)
    modified = client.bulk_modify(
        studies, level="Study", replace={"StudyDescription": "bulk"}, asynchronous=False
    )
    assert len(modified["Study"]) == 3
    for study_id in modified["Study"]:
        assert client.get(("studies", study_id))["MainDicomTags"]["StudyDescription"] == "bulk"
    with pytest.raises(ForceRequiredError):
        client.bulk_modify(studies, level="Study", replace={"StudyInstanceUID": "1.2.3"})
    client.bulk_delete(studies + new["Study"] + modified["Study"])
    assert client.get("studies") == []
