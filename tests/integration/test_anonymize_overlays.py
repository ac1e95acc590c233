"""Overlays, curves, private tags and burned-in text through a real anonymization (issue 11).

Orthanc 1.10.1 and 1.12.7 both keep curves (50xx) and overlays (60xx) when they anonymize, so
an Overlay Comments "Jane Smith, DOB 1961-04-15" survived ``anonymize()`` and
``verify_anonymized()`` answered ``[]``.
"""

from __future__ import annotations

import io
from typing import Any

import pydicom
import pytest
from _ops_data import resource, upload
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from kkorthanc import check_anonymized
from kkorthanc._core.levels import Level

COMMENT = "Jane Smith, DOB 1961-04-15"


def overlay_ct() -> bytes:
    """CT_small.dcm with overlays in groups 6000 and 6002, a curve, a named private tag and
    BurnedInAnnotation YES, under new UIDs."""
    path = get_testdata_file("CT_small.dcm", download=False)
    assert isinstance(path, str)
    dataset = pydicom.dcmread(path)
    for group in (0x6000, 0x6002):
        base = group << 16
        dataset.add_new(base | 0x0010, "US", 4)  # rows
        dataset.add_new(base | 0x0011, "US", 4)  # columns
        dataset.add_new(base | 0x0040, "CS", "G")
        dataset.add_new(base | 0x0050, "SS", [1, 1])
        dataset.add_new(base | 0x0100, "US", 1)
        dataset.add_new(base | 0x0102, "US", 0)
        dataset.add_new(base | 0x3000, "OW", b"\xff\xff")
    dataset.add_new(0x60004000, "LT", COMMENT)
    dataset.add_new(0x60020022, "LO", "Jane Smith's scout")
    dataset.add_new(0x60021500, "LO", "JS")
    dataset.add_new(0x50000005, "US", 1)
    dataset.add_new(0x50002500, "LO", "Jane Smith ECG")
    dataset.add_new(0x50003000, "OW", b"\x01\x00\x02\x00")
    dataset.private_block(0x0009, "ACME 1.0", create=True).add_new(0x01, "LO", "Jane Smith")
    dataset.BurnedInAnnotation = "YES"
    dataset.StudyInstanceUID = generate_uid()
    dataset.SeriesInstanceUID = generate_uid()
    dataset.SOPInstanceUID = generate_uid()
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def short_tags(client: Any, instance_id: str) -> dict[str, Any]:
    return dict(client.get(("instances", instance_id, "tags"), params={"short": True}))


def only_instance(client: Any, study_id: str) -> str:
    instances = client.get(("studies", study_id, "instances"))
    assert len(instances) == 1
    return str(instances[0]["ID"])


def repeating_groups(tags: dict[str, Any]) -> list[str]:
    return sorted(tag for tag in tags if tag[:2] in ("50", "60"))


def study_of_overlay_ct(client: Any) -> Any:
    answer = upload(client, overlay_ct())
    tags = short_tags(client, answer["ID"])
    assert tags["6000,4000"] == COMMENT and "5000,3000" in tags  # Orthanc stored them
    return resource(client, Level.STUDY, answer["ParentStudy"])


@pytest.mark.parametrize("how", ["call", "job", "bulk"])
def test_anonymize_removes_overlays_and_curves(client: Any, how: str) -> None:
    study = study_of_overlay_ct(client)
    if how == "bulk":
        new_id = client.bulk_anonymize([study.id], timeout=120)["Study"][0]
    else:
        new_id = study.anonymize(asynchronous=how == "job", timeout=120).id
    tags = short_tags(client, only_instance(client, new_id))
    assert repeating_groups(tags) == []  # every curve and overlay group, removed whole
    assert not [value for value in tags.values() if "Jane" in str(value)]
    assert "0009,1101" not in tags and "0008,0012" not in tags
    findings = resource(client, Level.STUDY, new_id).verify_anonymized()
    # what remains is the pixels' burned-in text, for a person to review
    assert [(f.kind, f.keyword, f.value) for f in findings] == [
        ("burned_in", "BurnedInAnnotation", "YES")
    ]


def test_plain_orthanc_anonymization_is_reported(client: Any) -> None:
    study = study_of_overlay_ct(client)
    plain = client.post(study.path("anonymize"), json={})  # without our Remove list
    tags = short_tags(client, only_instance(client, plain["ID"]))
    assert tags["6000,4000"] == COMMENT  # Orthanc keeps it, on 1.10.1 and 1.12.7
    findings = resource(client, Level.STUDY, plain["ID"]).verify_anonymized()
    by_tag = {finding.tag: finding for finding in findings}
    assert by_tag["6000,4000"].value == COMMENT
    assert by_tag["6000,4000"].reason == "kept its original value"
    assert {"6000,3000", "6002,3000", "6002,0022", "6002,1500", "5000,3000"} <= set(by_tag)
    assert by_tag["6000,3000"].keyword == "OverlayData"  # binary: Orthanc shows null
    assert by_tag["5000,2500"].keyword == "CurveData"
    assert by_tag["0028,0301"].kind == "burned_in"
    assert "6000,0010" not in by_tag  # an overlay's size names nobody


def test_keep_private_tags_leak_is_reported(client: Any) -> None:
    study = study_of_overlay_ct(client)
    anonymous = study.anonymize(keep_private_tags=True)
    findings = anonymous.verify_anonymized()
    private = {f.tag: f for f in findings if f.kind == "private"}
    assert private["0009,1101"].value == "Jane Smith"
    assert "'ACME 1.0'" in private["0009,1101"].reason
    assert "0009,0011" not in private  # the creator element itself is not reported
    assert {f.kind for f in findings} == {"private", "burned_in"}
    assert not [f for f in findings if f.tag[:2] in ("50", "60")]


def test_what_the_user_keeps_or_replaces_is_not_removed(client: Any) -> None:
    study = study_of_overlay_ct(client)
    anonymous = study.anonymize(
        keep=["6000,4000", "InstanceCreationDate"], replace={"6002,0022": "scout overlay"}
    )
    tags = short_tags(client, only_instance(client, anonymous.id))
    assert tags["6000,4000"] == COMMENT and tags["6002,0022"] == "scout overlay"
    assert tags["0008,0012"] == "20040119"
    assert "6000,3000" not in tags and "6002,3000" not in tags and "6002,1500" not in tags
    assert "6000,0010" in tags and "6002,0010" in tags  # overlays kept in part keep their size
    assert "6004,0010" not in tags
    findings = anonymous.verify_anonymized(keep=["6000,4000", "InstanceCreationDate"])
    # a replaced X attribute is still reported: the check cannot know the new value is clean
    assert {f.tag for f in findings} == {"0028,0301", "6002,0022"}
    assert {f.tag for f in anonymous.verify_anonymized()} == {f.tag for f in findings}
    unkept = {f.tag for f in anonymous.verify_anonymized(keep=())}  # (): kept tags reported too
    assert {"6000,4000", "0008,0012", "0028,0301"} <= unkept


def test_anonymized_file_removes_overlays_and_curves(client: Any) -> None:
    answer = upload(client, overlay_ct())
    instance = resource(client, Level.INSTANCE, answer["ID"])
    dataset = instance.anonymized_dataset()
    assert not [e.tag for e in dataset if e.tag.group >> 8 in (0x50, 0x60)]
    findings = check_anonymized(dataset, original=short_tags(client, answer["ID"]))
    assert [(f.kind, f.tag) for f in findings] == [("burned_in", "0028,0301")]
