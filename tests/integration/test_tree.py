"""client.tree() on real servers: one expanded find per level, filters, text, records."""

from __future__ import annotations

import datetime
from typing import Any

import httpx
import pytest
from _resource_data import upload_grid

import kkorthanc
from kkorthanc.errors import OrthancInputError


class CountingTransport(httpx.HTTPTransport):
    """Counts the requests a sync client sends."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return super().handle_request(request)


@pytest.fixture
def grid(orthanc: Any) -> int:
    return upload_grid(orthanc, 3, 2, 2, 3)  # 3 patients, 6 studies, 12 series, 36 instances


def test_full_tree(client: Any, grid: int) -> None:
    tree = client.tree()
    counts = (len(tree.patients), len(tree.studies), len(tree.series), len(tree.instances))
    assert counts == (3, 6, 12, 36)
    patient = tree.patients[0]
    assert patient.patient_name == "Doe^Patient0"
    studies = tree.studies_of(patient)
    assert [s.date for s in studies] == [datetime.date(2021, 1, 1), datetime.date(2021, 2, 1)]
    series = tree.series_of(studies[0])
    assert [s.number for s in series] == [1, 2] and [s.modality for s in series] == ["CT", "MR"]
    assert [i.number for i in tree.instances_of(series[0])] == [1, 2, 3]
    with pytest.raises(OrthancInputError):
        tree.series_of(patient)


def test_tree_request_count_does_not_grow_with_resources(orthanc: Any, grid: int) -> None:
    transport = CountingTransport()
    # The plain REST path (by default the client first reads its capabilities, once, to detect
    # the KkOrthanc plugin; tests/integration/test_kk_client.py counts that path).
    options = {"transport": transport, "use_kk_plugin": False}
    with kkorthanc.Orthanc(orthanc.url, auth=orthanc.auth, **options) as client:
        tree = client.tree()
        assert len(tree.instances) == 36
        assert transport.paths.count("/tools/find") == 4 and len(transport.paths) == 4
        transport.paths.clear()
        client.tree(PatientID="P1", Modality="CT")
        assert len(transport.paths) == 4
        transport.paths.clear()
        client.tree(depth="Study")
        assert len(transport.paths) == 2


def test_tree_filters_at_every_level(client: Any, grid: int) -> None:
    tree = client.tree(Modality="CT")
    assert (len(tree.patients), len(tree.studies), len(tree.series)) == (3, 6, 6)
    assert {s.modality for s in tree.series} == {"CT"} and len(tree.instances) == 18
    tree = client.tree(PatientID="P1", StudyDate="20210201")
    assert [p.patient_id for p in tree.patients] == ["P1"]
    assert [s.date for s in tree.studies] == [datetime.date(2021, 2, 1)]
    assert len(tree.series) == 2 and len(tree.instances) == 6
    tree = client.tree(InstanceNumber="2", Modality="MR")
    assert (
        len(tree.patients) == 3
        and len(tree.series) == 6
        and {i.number for i in tree.instances} == {2}
    )
    tree = client.tree(ModalitiesInStudy="MR", PatientName="*patient2")
    assert [p.patient_id for p in tree.patients] == ["P2"] and len(tree.series) == 4
    assert len(client.tree(PatientID="nobody")) == 0


def test_tree_depth_text_and_records(client: Any, grid: int) -> None:
    tree = client.tree(PatientID="P0", depth="Series")
    assert tree.instances == () and len(tree.series) == 4
    text = str(tree)
    lines = text.splitlines()
    assert len(lines) == 1 + 2 + 4
    assert lines[0].startswith("Patient PatientID=P0 PatientName=Doe^Patient0")
    assert lines[1].startswith("  Study StudyDate=20210101") and lines[2].startswith(
        "    Series SeriesNumber=1 Modality=CT"
    )
    records = tree.to_records("series")
    assert len(records) == 4 and records[0]["PatientID"] == "P0"
    assert records[0]["StudyDate"] == datetime.date(2021, 1, 1) and records[0]["SeriesNumber"] == 1
    assert set(records[0]) >= {"patient_orthanc_id", "study_orthanc_id", "series_orthanc_id"}
    assert tree.to_records("study", typed=False)[0]["StudyDate"] == "20210101"
    with pytest.raises(OrthancInputError, match="stops at Series"):
        tree.to_records("instance")
    frame = client.tree().to_dataframe()
    assert frame.shape[0] == 36 and set(frame["Modality"]) == {"CT", "MR"}
    assert frame.groupby("PatientID").size().to_dict() == {"P0": 12, "P1": 12, "P2": 12}


def test_empty_server_and_bad_arguments(client: Any) -> None:
    tree = client.tree()
    assert len(tree) == 0 and str(tree) == "(empty)" and tree.to_records() == []
    with pytest.raises(OrthancInputError):
        client.tree(depth="Frame")
    with pytest.raises(OrthancInputError):
        client.tree(Modalty="CT")
