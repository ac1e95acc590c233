"""Metadata, attachments (with ETags and revisions), labels, statistics and protection, on real
servers, at every level. Data: pydicom's CT_small.dcm.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydicom.data import get_testdata_file

from kkorthanc.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    OrthancInputError,
    UnsupportedFeatureError,
)

CT = get_testdata_file("CT_small.dcm", download=False)


def stored_tree(client: Any) -> list[Any]:
    """Upload CT_small.dcm; return its patient, study, series and instance resources."""
    assert isinstance(CT, str)
    answer = client.post("instances", data=Path(CT).read_bytes())
    return [
        client.patients.get(answer["ParentPatient"]),
        client.studies.get(answer["ParentStudy"]),
        client.series.get(answer["ParentSeries"]),
        client.instances.get(answer["ID"]),
    ]


def test_metadata_round_trip_at_every_level(client: Any) -> None:
    for resource in stored_tree(client):
        resource.set_metadata(1025, "first")
        assert resource.get_metadata(1025) == "first"
        resource.set_metadata("1025", "second")  # a replacement needs no ETag by default
        assert resource.list_metadata()["1025"] == "second"
        resource.set_metadata(1025, "")
        assert resource.get_metadata(1025) == ""
        resource.delete_metadata(1025)
        assert "1025" not in resource.list_metadata()
        with pytest.raises(NotFoundError):
            resource.get_metadata(1025)


def test_system_metadata_and_attachments_are_read_only(client: Any) -> None:
    instance = stored_tree(client)[-1]
    assert instance.list_metadata()["Origin"] == "RestApi"
    with pytest.raises(ForbiddenError):
        instance.set_metadata("RemoteAET", "X")
    with pytest.raises(ForbiddenError):
        instance.set_metadata(1, "X")
    with pytest.raises(ForbiddenError):
        instance.set_attachment("dicom", b"not a file")
    assert instance.file() == Path(str(CT)).read_bytes()


def test_stale_etags_raise_conflicts(client: Any) -> None:
    study = stored_tree(client)[1]
    study.set_metadata(1025, "a")
    etag = study.metadata_etag(1025)
    assert etag.startswith('"') and "-" in etag
    study.set_metadata(1025, "b")  # someone else's change
    with pytest.raises(ConflictError) as caught:
        study.set_metadata(1025, "c", if_match=etag)
    assert caught.value.status_code == 409
    assert study.get_metadata(1025) == "b"
    with pytest.raises(ConflictError):
        study.delete_metadata(1025, if_match=etag)
    study.delete_metadata(1025, if_match=study.metadata_etag(1025))
    study.set_attachment(1025, b"v1")
    old = study.attachment_etag(1025)
    study.set_attachment(1025, b"v2")
    with pytest.raises(ConflictError):
        study.set_attachment(1025, b"v3", if_match=old)
    assert study.get_attachment(1025) == b"v2"


def test_attachments_round_trip_with_info(client: Any) -> None:
    for resource in stored_tree(client):
        resource.set_attachment(1025, b"hello")
        assert resource.get_attachment(1025) == b"hello"
        assert "1025" in resource.list_attachments()
        info = resource.attachment_info(1025)
        assert info.uncompressed_size == 5 and info.content_type == 1025
        assert info.uncompressed_md5 == "5d41402abc4b2a76b9719d911017c592"
        assert info.etag is not None and info.uncompressed_md5 in info.etag
        resource.set_attachment("1025", bytearray(b"hello again"))
        assert resource.get_attachment(1025) == b"hello again"
        resource.delete_attachment(1025)
        assert "1025" not in resource.list_attachments()
    dicom = stored_tree(client)[-1].attachment_info("dicom")
    assert dicom.content_type == 1 and dicom.uncompressed_size == Path(str(CT)).stat().st_size


def test_check_revisions_server_gets_the_etag_sent_back(orthanc_factory: Any, make_client: Any):
    server = orthanc_factory(extra={"CheckRevisions": True})
    client = make_client(server.url, auth=server.auth)
    assert client.system().check_revisions
    instance = stored_tree(client)[-1]
    instance.set_metadata(1025, "a")
    with pytest.raises(ConflictError):  # what a bare PUT gets from such a server
        client.put(instance.path("metadata", "1025"), data="raw")
    instance.set_metadata(1025, "b")
    assert instance.get_metadata(1025) == "b"
    stale = instance.metadata_etag(1025)
    instance.set_metadata(1025, "c")
    with pytest.raises(ConflictError):
        instance.set_metadata(1025, "d", if_match=stale)
    instance.delete_metadata(1025)
    assert "1025" not in instance.list_metadata()
    instance.set_attachment(1025, b"x")
    instance.set_attachment(1025, b"y")
    instance.delete_attachment(1025)
    assert instance.list_attachments() == ["dicom"]


def test_labels_where_the_server_has_them(client: Any, orthanc: Any) -> None:
    study = stored_tree(client)[1]
    if orthanc.version.startswith("1.10."):
        for call in (
            study.list_labels,
            lambda: study.set_label("x"),
            lambda: study.delete_label("x"),
        ):
            with pytest.raises(UnsupportedFeatureError):
                call()
        return
    assert study.list_labels() == []
    study.set_label("reviewed")
    study.set_label("to-share_2")
    study.set_label("reviewed")
    assert sorted(study.list_labels()) == ["reviewed", "to-share_2"]
    assert "reviewed" in study.refresh().fetched_labels
    study.delete_label("reviewed")
    study.delete_label("never-added")
    assert study.list_labels() == ["to-share_2"]
    with pytest.raises(OrthancInputError):
        study.set_label("with space")


def test_statistics_are_typed_at_every_level(client: Any) -> None:
    patient, study, series, instance = stored_tree(client)
    size = Path(str(CT)).stat().st_size
    stats = instance.statistics()
    assert stats.disk_size == size and stats.uncompressed_size == size
    assert stats.dicom_disk_size == size and stats.count_instances is None
    assert patient.statistics().count_studies == 1
    assert study.statistics().count_series == 1
    series_stats = series.statistics()
    assert series_stats.count_instances == 1 and series_stats.count_series is None


def test_protecting_a_patient(client: Any) -> None:
    patient, study, _series, _instance = stored_tree(client)
    assert patient.is_protected() is False
    patient.set_protected(True)
    assert patient.is_protected() is True
    patient.set_protected(False)
    assert patient.is_protected() is False
    with pytest.raises(OrthancInputError):
        study.set_protected(True)
    with pytest.raises(OrthancInputError):
        study.is_protected()


def test_html_view_shows_main_tags_without_requests(client: Any) -> None:
    patient, study, _series, _instance = stored_tree(client)
    assert "1CT1" in patient._repr_html_()
    html = study._repr_html_()
    assert study.id in html and "StudyInstanceUID" in html
