"""Collections on real servers: get, list, iter, count, lookups and Orthanc IDs."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from _resource_data import charset_file, ct_bytes, upload

import kkorthanc
from kkorthanc.errors import NotFoundError, OrthancInputError, UnexpectedContentError

SPECIAL_IDS = ["#00385", "A/B", "../x", " lead", "trail  ", "ä ö?*", "AbC"]


@pytest.fixture
def five_studies(orthanc: Any) -> list[dict[str, Any]]:
    with orthanc.client() as http:
        return [upload(http, ct_bytes(PatientID=f"P{i % 2}")) for i in range(5)]


def test_empty_server(client: Any) -> None:
    assert client.patients.list() == [] and client.instances.list(limit=3) == []
    assert list(client.studies.iter(page_size=2)) == []
    assert client.series.count() == 0 and client.studies.count(PatientID="x") == 0
    assert client.patients.lookup("P1") is None and client.studies.lookup("1.2.3") is None
    assert client.studies.find(PatientName="*") == []


def test_list_iter_and_count(client: Any, five_studies: list[dict[str, Any]]) -> None:
    studies = client.studies.list()
    assert {study.id for study in studies} == {answer["ParentStudy"] for answer in five_studies}
    assert all(study.date is not None for study in studies)  # data comes with the listing
    assert len(client.studies.list(limit=2)) == 2
    assert len(client.studies.list(since=3)) == 2
    assert len(client.studies.list(since=1, limit=10)) == 4
    paged = list(client.studies.iter(page_size=2))
    assert sorted(study.id for study in paged) == sorted(study.id for study in studies)
    assert client.studies.count() == 5 and client.patients.count() == 2
    assert client.studies.count(PatientID="P0") == 3
    assert client.instances.count({"0010,0020": "P1"}) == 2
    with pytest.raises(OrthancInputError, match="limit"):
        client.studies.list(limit=0)
    with pytest.raises(OrthancInputError):
        list(client.studies.iter(page_size=0))


def test_get_unknown_wrong_level_and_malformed_ids(
    client: Any, five_studies: list[dict[str, Any]]
) -> None:
    study_id = five_studies[0]["ParentStudy"]
    with pytest.raises(NotFoundError, match=r"it is the ID of a study; use client\.studies\.get"):
        client.series.get(study_id)
    with pytest.raises(NotFoundError, match="it is the ID of a series"):
        client.instances.get(five_studies[0]["ParentSeries"])
    unknown = kkorthanc.orthanc_id("nobody")
    with pytest.raises(NotFoundError, match="no patient has the Orthanc ID") as caught:
        client.patients.get(unknown)
    assert caught.value.status_code == 404 and "ID of a" not in str(caught.value)
    for bad in ["", "abc", "../studies", study_id.upper(), study_id + "/archive", 42]:
        with pytest.raises(OrthancInputError, match="Orthanc"):
            client.studies.get(bad)


def test_orthanc_ids_match_the_server(client: Any, orthanc: Any) -> None:
    files = [ct_bytes(PatientID=patient_id) for patient_id in SPECIAL_IDS]
    files += [charset_file("chrX1.dcm"), charset_file("chrX2.dcm")]
    with orthanc.client() as http:
        answers = [upload(http, data) for data in files]
    for data, answer in zip(files, answers, strict=True):
        ids = kkorthanc.orthanc_ids(io.BytesIO(data))
        assert ids == (
            answer["ParentPatient"],
            answer["ParentStudy"],
            answer["ParentSeries"],
            answer["ID"],
        )
    for patient_id, answer in zip(SPECIAL_IDS, answers[: len(SPECIAL_IDS)], strict=True):
        # Written as LO, a PatientID loses its trailing spaces (padding): look it up as stored.
        patient = client.patients.lookup(patient_id.rstrip())
        assert patient is not None and patient.id == answer["ParentPatient"]
        assert patient.patient_id == patient_id.rstrip()
        assert client.patients.get(patient.id) == patient
        assert patient.studies()[0].id == answer["ParentStudy"]
    chinese = client.patients.lookup("X2EXAMPLE")
    assert chinese is not None and chinese.patient_name == "Wang^XiaoDong=王^小东="
    assert client.patients.lookup("X1EXAMPLE").patient_name == "Wang^XiaoDong=王^小東="


def test_lookups_are_exact(client: Any, orthanc: Any) -> None:
    with orthanc.client() as http:
        first = upload(
            http,
            ct_bytes(
                PatientID="AbC",
                StudyInstanceUID="1.2.3.4",
                SeriesInstanceUID="1.2.3.4.5",
                SOPInstanceUID="1.2.3.4.5.6",
            ),
        )
        upload(http, ct_bytes(PatientID="Other", StudyInstanceUID="1.2.3.40"))
    assert client.patients.lookup("abc") is None and client.patients.lookup("AB") is None
    assert client.patients.lookup("AbC").id == first["ParentPatient"]
    assert client.studies.lookup("1.2.3.4").id == first["ParentStudy"]
    assert client.studies.lookup("1.2.3") is None
    assert client.series.lookup("1.2.3.4.5").id == first["ParentSeries"]
    assert client.instances.lookup("1.2.3.4.5.6").id == first["ID"]
    assert client.instances.lookup("1.2.3.4") is None  # a study UID is not an instance
    for bad in ["", "1.2.*", "1.2.3\\1.2.4"]:
        with pytest.raises(OrthancInputError):
            client.studies.lookup(bad)


def test_study_uid_shared_by_two_patients(client: Any, orthanc: Any) -> None:
    with orthanc.client() as http:
        answers = [
            upload(http, ct_bytes(PatientID=p, StudyInstanceUID="1.2.99")) for p in ("A", "B")
        ]
    found = client.studies.lookup_all("1.2.99")
    assert sorted(study.id for study in found) == sorted(a["ParentStudy"] for a in answers)
    with pytest.raises(UnexpectedContentError, match="lookup_all"):
        client.studies.lookup("1.2.99")


def test_an_identifier_stored_as_un_is_found_with_its_trailing_space(
    client: Any, tmp_path: Any
) -> None:
    """pydicom-data's explicit_VR-UN.dcm has the PatientID "PANCREAS_0001 " encoded as UN:
    Orthanc keeps the space, and its find matches trailing spaces exactly (1.10 and 1.12)."""
    from pydicom.data import get_testdata_file

    source = get_testdata_file("explicit_VR-UN.dcm", download=False)
    if source is None:
        pytest.skip("pydicom-data is not installed (it is in the dev extra)")
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / "un.dcm"
    path.write_bytes(Path(source).read_bytes())
    report = client.upload(path)
    assert report.counts == {"stored": 1}
    patient = client.patients.lookup("PANCREAS_0001 ")
    assert patient is not None and patient.id == kkorthanc.orthanc_ids(path).patient
    assert patient.patient_id == "PANCREAS_0001 "
    assert client.patients.lookup("PANCREAS_0001") is None
    assert client.patients.lookup("PANCREAS_0001  ") is None
    assert [p.id for p in client.patients.find(PatientID="PANCREAS_0001 ")] == [patient.id]
    assert client.patients.find(PatientID="PANCREAS_0001") == []
    study = patient.studies()[0]
    assert client.studies.lookup(study.study_instance_uid) == study
    again = client.upload(tmp_path / "in")
    assert again.counts == {"skipped_existing": 1}  # found by its ID, not sent again
