"""Resources on real servers: typed main tags, parents, children, the four verbs, uids()."""

from __future__ import annotations

import datetime
from typing import Any

import pydicom
import pytest
from _resource_data import ct_bytes, upload, upload_grid
from pydicom.data import get_testdata_file

import kkorthanc
from kkorthanc.errors import NotFoundError, OrthancInputError


def _ct_small() -> bytes:
    path = get_testdata_file("CT_small.dcm", download=False)
    assert isinstance(path, str)
    with open(path, "rb") as handle:
        return handle.read()


@pytest.fixture
def ct(orthanc: Any) -> dict[str, Any]:
    with orthanc.client() as http:
        return upload(http, _ct_small())


def test_typed_main_tags(client: Any, ct: dict[str, Any]) -> None:
    patient = client.patients.get(ct["ParentPatient"])
    study = client.studies.get(ct["ParentStudy"])
    series = client.series.get(ct["ParentSeries"])
    instance = client.instances.get(ct["ID"])
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    assert (patient.patient_id, patient.patient_name, patient.sex) == (
        "1CT1",
        str(dataset.PatientName),
        "O",
    )
    assert study.date == datetime.date(2004, 1, 19)
    assert study.time == datetime.time(7, 27, 30)
    assert study.study_instance_uid == dataset.StudyInstanceUID
    assert study.main_tags["StudyDate"] == "20040119"
    assert study.patient_id == "1CT1" and study.parent_id == patient.id
    assert (series.modality, series.number) == ("CT", int(dataset.SeriesNumber))
    assert series.series_instance_uid == dataset.SeriesInstanceUID
    assert series.parent_id == study.id and series.instance_ids == (instance.id,)
    assert instance.number == 1 and instance.sop_instance_uid == dataset.SOPInstanceUID
    assert instance.image_position == pytest.approx(
        tuple(float(v) for v in dataset.ImagePositionPatient)
    )
    assert instance.parent_id == series.id and instance.file_size == len(_ct_small())
    assert patient.study_ids == (study.id,) and study.series_ids == (series.id,)


def test_parents_and_children(client: Any, ct: dict[str, Any]) -> None:
    instance = client.instances.get(ct["ID"])
    series = instance.series()
    study = series.study()
    patient = study.patient()
    assert (series.id, study.id, patient.id) == (
        ct["ParentSeries"],
        ct["ParentStudy"],
        ct["ParentPatient"],
    )
    assert (
        instance.study() == study and instance.patient() == patient and series.patient() == patient
    )
    assert patient.studies() == [study]
    assert patient.series() == [series] and patient.instances() == [instance]
    assert study.series() == [series]
    assert series.instances() == [instance] and study.instances() == [instance]
    assert study.series()[0].modality == "CT"  # children come with their data


def test_a_patient_navigates_to_every_series_and_instance(client: Any, orthanc: Any) -> None:
    upload_grid(orthanc, patients=2, studies=2, series=2, instances=2)
    patient = client.patients.lookup("P1")
    series = patient.series()
    instances = patient.instances()
    assert sorted(s.id for s in series) == sorted(
        s.id for st in patient.studies() for s in st.series()
    )
    assert {s.parent_id for s in series} == set(patient.study_ids) and len(series) == 4
    assert len(instances) == 8 and {i.parent_id for i in instances} == {s.id for s in series}
    assert {s.modality for s in series} == {"CT", "MR"}  # with their data, as the other levels
    assert all(i.patient().id == patient.id for i in instances[:1])


def test_four_verbs_relative_to_the_resource(client: Any, ct: dict[str, Any]) -> None:
    instance = client.instances.get(ct["ID"])
    study = client.studies.get(ct["ParentStudy"])
    assert study.get("statistics")["CountInstances"] == 1
    instance.put("metadata/1025", data="reviewed")
    assert instance.get("metadata/1025") == "reviewed"
    instance.delete("metadata/1025")
    with pytest.raises(NotFoundError):
        instance.get("metadata/1025")
    answer = study.post("anonymize", json={"Keep": ["StudyDescription"]})
    assert answer["Type"] == "Study" and answer["ID"] != study.id
    assert client.studies.count() == 2


def test_refresh_and_deleted_resource(client: Any, ct: dict[str, Any]) -> None:
    series = client.series.get(ct["ParentSeries"])
    assert series.refresh() is not None and series.modality == "CT"
    series.delete()
    with pytest.raises(NotFoundError):
        series.refresh()
    with pytest.raises(NotFoundError):
        series.instances()
    assert client.patients.list() == []  # the last series gone: Orthanc removes the parents


def test_resource_without_data_says_to_refresh(orthanc: Any, ct: dict[str, Any]) -> None:
    with kkorthanc.Orthanc(orthanc.url, auth=orthanc.auth) as client:
        bare = kkorthanc.Study(client, ct["ParentStudy"])
        with pytest.raises(OrthancInputError, match="refresh"):
            _ = bare.date
        bare.refresh()
        assert bare.date == datetime.date(2004, 1, 19)
        assert bare == client.studies.get(ct["ParentStudy"]) and len({bare, bare}) == 1
        assert bare != kkorthanc.Series(client, ct["ParentStudy"])


def test_uids_nested_and_typed(client: Any, orthanc: Any) -> None:
    with orthanc.client() as http:
        uids = ["1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.2"]
        answers = [
            upload(
                http,
                ct_bytes(
                    PatientID="U1",
                    StudyInstanceUID="1.2.3",
                    SeriesInstanceUID=series,
                    SOPInstanceUID=f"{series}.{i}",
                ),
            )
            for series in uids
            for i in (1, 2)
        ]
    patient = client.patients.lookup("U1")
    tree = patient.uids()
    assert isinstance(tree, kkorthanc.PatientUids)
    assert tree.patient_id == "U1" and tree.orthanc_id == patient.id
    (study,) = tree.studies
    assert study.study_instance_uid == "1.2.3" and study.patient_id == "U1"
    assert [s.series_instance_uid for s in study.series] == uids
    assert [i.sop_instance_uid for i in study.series[1].instances] == [
        f"{uids[1]}.1",
        f"{uids[1]}.2",
    ]
    assert {i.orthanc_id for s in study.series for i in s.instances} == {a["ID"] for a in answers}
    assert client.studies.get(study.orthanc_id).uids() == study
    series = client.series.get(study.series[0].orthanc_id)
    assert series.uids() == study.series[0]
