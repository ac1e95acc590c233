"""Building find bodies, and collections' find/lookup requests against a mock transport."""

from __future__ import annotations

import datetime
import json
from typing import Any

import httpx
import pytest

import kkorthanc
from kkorthanc._core.find import (
    check_orthanc_id,
    find_body,
    normalize_query,
    query_value,
    required_features,
    tag_key,
    tag_level,
)
from kkorthanc._core.levels import Level
from kkorthanc.errors import OrthancInputError, UnsupportedFeatureError


def test_tag_keys() -> None:
    assert tag_key("PatientName") == "PatientName"
    assert tag_key("(0010,0010)") == tag_key("0010-0010") == tag_key("00100010") == "0010,0010"
    assert (
        tag_key("0009,10ab") == "0009,10AB" and tag_key("ModalitiesInStudy") == "ModalitiesInStudy"
    )
    for bad in ["patientname", "PatientNmae", "0010,001", ""]:
        with pytest.raises(OrthancInputError):
            tag_key(bad)


def test_tag_levels() -> None:
    assert tag_level("0010,0020") is Level.PATIENT and tag_level("StudyDate") is Level.STUDY
    assert (
        tag_level("ModalitiesInStudy") is Level.STUDY and tag_level("SeriesNumber") is Level.SERIES
    )
    assert tag_level("InstanceNumber") is Level.INSTANCE and tag_level("Rows") is Level.INSTANCE


def test_values() -> None:
    day = datetime.date(2021, 1, 2)
    assert query_value("StudyDate", day) == "20210102"
    assert query_value("StudyDate", (day, None)) == "20210102-"
    assert query_value("StudyDate", (None, day)) == "-20210102"
    assert query_value("StudyDate", (day, datetime.date(2021, 2, 1))) == "20210102-20210201"
    assert (
        query_value("Modality", ["CT", "MR"]) == "CT\\MR"
        and query_value("Modality", ("CT",)) == "CT"
    )
    assert query_value("SeriesNumber", 3) == "3"
    assert query_value("StudyTime", datetime.time(7, 5)) == "070500"
    for bad in [[], True, 1.5, None, {"a": 1}]:
        with pytest.raises(OrthancInputError):
            query_value("X", bad)


def test_normalize_and_body() -> None:
    query = normalize_query({"0010,0010": "Doe*"}, {"StudyDate": datetime.date(2021, 1, 1)})
    assert query == {"0010,0010": "Doe*", "StudyDate": "20210101"}
    with pytest.raises(OrthancInputError, match="twice"):
        normalize_query({"(0010,0010)": "a"}, {"0010-0010": "b"})
    with pytest.raises(OrthancInputError):
        normalize_query(["PatientID"], {})  # type: ignore[arg-type]
    body = find_body(Level.SERIES, query, case_sensitive=False, since=5, limit=10)
    assert body == {
        "Level": "Series",
        "Query": query,
        "Expand": True,
        "CaseSensitive": False,
        "Since": 5,
        "Limit": 10,
    }
    for bad in [{"limit": 0}, {"limit": -1}, {"since": -1}, {"limit": True}]:
        with pytest.raises(OrthancInputError):
            find_body(Level.STUDY, {}, **bad)
    with pytest.raises(OrthancInputError):
        find_body(Level.STUDY, {}, labels=["a"], labels_constraint="Some")
    labelled = find_body(Level.STUDY, {}, labels="a", requested_tags=["0010,0010"])
    assert labelled["Labels"] == ["a"] and labelled["LabelsConstraint"] == "All"
    assert [feature for feature, _ in required_features(labelled)] == ["labels", "requested_tags"]


def test_orthanc_id_shape() -> None:
    good = kkorthanc.orthanc_id("P1")
    assert check_orthanc_id(good, Level.PATIENT) == good
    for bad in [good.upper(), good[:-1], good + "/x", "", None]:
        with pytest.raises(OrthancInputError, match="patient ID"):
            check_orthanc_id(bad, Level.PATIENT)


def _server(bodies: list[Any], *, version: str = "1.10.1") -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/system":
            return httpx.Response(200, json={"Version": version, "ApiVersion": 16})
        if request.url.path == "/plugins":
            return httpx.Response(200, json=[])
        bodies.append(json.loads(request.content) if request.content else dict(request.url.params))
        return httpx.Response(200, json=[])

    return httpx.MockTransport(handle)


def test_collections_send_what_orthanc_reads() -> None:
    bodies: list[Any] = []
    with kkorthanc.Orthanc("http://orthanc", transport=_server(bodies)) as client:
        assert (
            client.studies.find(PatientName="Doe*", ModalitiesInStudy=["CT", "MR"], limit=5) == []
        )
        assert client.studies.list(limit=3) == []
        assert client.series.lookup("1.2.3") is None
        with pytest.raises(UnsupportedFeatureError, match=r"1\.10\.1"):
            client.studies.find(labels=["x"])
    assert bodies[0] == {
        "Level": "Study",
        "Query": {"PatientName": "Doe*", "ModalitiesInStudy": "CT\\MR"},
        "Expand": True,
        "Limit": 5,
    }
    assert bodies[1] == {
        "expand": "true",
        "since": "0",
        "limit": "3",
    }  # 1.10 needs since with limit
    assert bodies[2]["Query"] == {"SeriesInstanceUID": "1.2.3"} and bodies[2]["Level"] == "Series"
    assert len(bodies) == 3  # the refused label filter sent nothing
