"""find() and iter_find() on real servers."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from _resource_data import ct_bytes, upload

from kkorthanc.errors import OrthancInputError, UnsupportedFeatureError


@pytest.fixture
def studies(orthanc: Any) -> list[dict[str, Any]]:
    people = [
        ("D1", "Doe^John", "20200105", "CT"),
        ("D2", "DOE^Jane", "20210310", "MR"),
        ("S1", "Smith^Ann", "20210701", "CT"),
        ("S2", "Smith^Bob", "20220101", "US"),
        ("S3", "Smith^Cid", "20230101", "CT"),
    ]
    with orthanc.client() as http:
        return [
            upload(http, ct_bytes(PatientID=p, PatientName=n, StudyDate=d, Modality=m))
            for p, n, d, m in people
        ]


def _ids(resources: list[Any]) -> set[str]:
    return {resource.patient_id for resource in resources}


def test_find_by_tags_dates_and_lists(client: Any, studies: list[dict[str, Any]]) -> None:
    assert _ids(client.studies.find(PatientName="doe*")) == {"D1", "D2"}
    assert _ids(client.studies.find(PatientName="doe*", case_sensitive=True)) == set()
    assert _ids(client.studies.find(StudyDate="20210101-")) == {"D2", "S1", "S2", "S3"}
    window = (datetime.date(2021, 1, 1), datetime.date(2021, 12, 31))
    assert _ids(client.studies.find(StudyDate=window)) == {"D2", "S1"}
    assert _ids(client.studies.find(StudyDate=(None, datetime.date(2020, 12, 31)))) == {"D1"}
    assert _ids(client.studies.find(StudyDate=datetime.date(2022, 1, 1))) == {"S2"}
    assert _ids(client.studies.find(ModalitiesInStudy=["MR", "US"])) == {"D2", "S2"}
    assert _ids(client.studies.find(ModalitiesInStudy="CT\\MR", PatientName="Smith*")) == {
        "S1",
        "S3",
    }
    assert _ids(client.studies.find({"0010,0020": "S?"}, limit=10)) == {"S1", "S2", "S3"}
    assert len(client.studies.find(limit=2)) == 2


def test_find_at_each_level_with_data(client: Any, studies: list[dict[str, Any]]) -> None:
    series = client.series.find(Modality="CT", PatientName="Smith*")
    assert {s.id for s in series} == {studies[2]["ParentSeries"], studies[4]["ParentSeries"]}
    assert all(s.modality == "CT" and s.raw["MainDicomTags"] for s in series)
    instances = client.instances.find(PatientID="D1")
    assert [i.id for i in instances] == [studies[0]["ID"]] and instances[0].number == 1
    patients = client.patients.find(PatientName="smith^*")
    assert sorted(p.patient_id for p in patients) == ["S1", "S2", "S3"]


def test_iter_find_pages(client: Any, studies: list[dict[str, Any]]) -> None:
    found = list(client.studies.iter_find(PatientName="*", page_size=2))
    assert sorted(s.id for s in found) == sorted(a["ParentStudy"] for a in studies)
    assert len(list(client.series.iter_find(Modality="CT", page_size=1))) == 3


def test_find_bad_input(client: Any, studies: list[dict[str, Any]]) -> None:
    with pytest.raises(OrthancInputError, match="unknown DICOM tag"):
        client.studies.find(PatientNmae="x")
    with pytest.raises(OrthancInputError):
        client.studies.find(StudyDate=1.5)
    with pytest.raises(OrthancInputError):
        client.studies.find(Modality=[])
    with pytest.raises(OrthancInputError):
        client.studies.find(limit=0)


def test_options_old_servers_would_ignore(
    client: Any, orthanc: Any, studies: list[dict[str, Any]]
) -> None:
    version = tuple(int(part) for part in orthanc.version.split(".")[:2])
    study_id = studies[0]["ParentStudy"]
    if version < (1, 12):
        with pytest.raises(UnsupportedFeatureError, match="label"):
            client.studies.find(labels=["reviewed"])
    else:
        with orthanc.client() as http:
            http.put(f"/studies/{study_id}/labels/reviewed").raise_for_status()
        assert [s.id for s in client.studies.find(labels=["reviewed"])] == [study_id]
        assert len(client.studies.find(labels=["reviewed"], labels_constraint="None")) == 4
    if version < (1, 11):
        with pytest.raises(UnsupportedFeatureError, match="requested_tags"):
            client.studies.find(PatientID="D1", requested_tags=["PatientBirthDate"])
    else:
        (study,) = client.studies.find(
            PatientID="D1", requested_tags=["StudyComments", "0008,0060"]
        )
        assert "RequestedTags" in study.raw
