"""The confidentiality-profile checker, on real pydicom datasets and Orthanc-style mappings."""

from __future__ import annotations

import copy

import pydicom
import pytest
from pydicom.data import get_testdata_file

from kkorthanc import Finding, check_anonymized, confidentiality_profile
from kkorthanc._dicom.deid import profile_removals
from kkorthanc.errors import OrthancInputError


def _ct() -> pydicom.Dataset:
    path = get_testdata_file("CT_small.dcm", download=False)
    assert isinstance(path, str)
    return pydicom.dcmread(path)


def test_profile_covers_the_common_identifying_attributes() -> None:
    keywords = {attribute.keyword: attribute.action for attribute in confidentiality_profile()}
    for keyword in [
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "InstitutionName",
        "ReferringPhysicianName",
        "OperatorsName",
        "AccessionNumber",
        "OtherPatientIDs",
        "DeviceSerialNumber",
        "StudyInstanceUID",
        "SOPInstanceUID",
    ]:
        assert keyword in keywords, keyword
    assert keywords["StudyInstanceUID"] == "U" and keywords["PatientAddress"] == "X"
    assert all(len(attribute.tag) == 9 for attribute in confidentiality_profile())


def test_profile_has_the_2024e_rows_orthanc_1_10_keeps() -> None:
    # Orthanc 1.10.1 (profile 2021b) and 1.12.7 keep these; Table E.1-1 (2024e) says remove
    actions = {attribute.keyword: attribute.action for attribute in confidentiality_profile()}
    for keyword in [
        "DateOfManufacture",
        "DateOfInstallation",
        "IssuerOfClinicalTrialSiteID",
        "ROICreatorSequence",
        "CalibrationDate",
        "StudyArrivalDate",
    ]:
        assert actions[keyword] == "X", keyword
    assert len(actions) >= 600


def test_untouched_dataset_is_reported_with_its_original_values() -> None:
    dataset = _ct()
    findings = check_anonymized(dataset, original=dataset)
    by_keyword = {finding.keyword: finding for finding in findings}
    assert by_keyword["PatientName"].value == str(dataset.PatientName)
    assert by_keyword["SOPInstanceUID"].reason == "kept its original value"
    assert "PatientID" in by_keyword


def test_a_clean_copy_passes_and_keep_is_honoured() -> None:
    original = _ct()
    clean = copy.deepcopy(original)
    for attribute in confidentiality_profile():
        if not attribute.is_repeating and attribute.keyword in clean:
            delattr(clean, attribute.keyword)
    clean.remove_private_tags()
    clean.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    assert check_anonymized(clean, original=original) == []
    clean.InstitutionName = original.InstitutionName
    assert [f.keyword for f in check_anonymized(clean, original=original)] == ["InstitutionName"]
    assert check_anonymized(clean, original=original, keep=["InstitutionName"]) == []


def test_without_original_only_removable_attributes_are_reported() -> None:
    tags = {"0010,0010": "ANONYMOUS", "PatientAddress": "1 Main St", "Unknown Tag & Data": "x"}
    assert check_anonymized(tags) == [
        Finding("0010,1040", "PatientAddress", "X", "1 Main St", "should have been removed")
    ]
    assert check_anonymized({"PatientAddress": ""}) == []


def test_orthanc_full_tags_format_is_read() -> None:
    tags = {"0010,0010": {"Name": "PatientName", "Type": "String", "Value": "DOE^JOHN"}}
    findings = check_anonymized(tags, original={"PatientName": "DOE^JOHN"})
    assert [f.keyword for f in findings] == ["PatientName"]


def test_bad_keep_and_bad_input_raise() -> None:
    with pytest.raises(OrthancInputError):
        check_anonymized({}, keep=["NotAKeyword"])
    with pytest.raises(OrthancInputError):
        check_anonymized(["PatientName"])  # type: ignore[arg-type]


def _ct_with_overlays() -> pydicom.Dataset:
    """CT_small.dcm with an overlay in two groups, a curve, a named private tag, burned-in text."""
    dataset = _ct()
    dataset.add_new(0x60000010, "US", 4)
    dataset.add_new(0x60003000, "OW", b"\xff\xff")
    dataset.add_new(0x60004000, "LT", "Jane Smith, DOB 1961-04-15")
    dataset.add_new(0x60020022, "LO", "Jane Smith")
    dataset.add_new(0x501E2500, "LO", "Jane's curve")
    dataset.private_block(0x0029, "ACME 1.0", create=True).add_new(0x01, "LO", "Jane Smith")
    assert dataset[0x00291101].value == "Jane Smith"  # block 11: CT_small uses 0029,10xx
    dataset.BurnedInAnnotation = "YES"
    return dataset


def test_profile_has_the_repeating_group_rows_of_table_e_1_1() -> None:
    masks = {a.tag: a for a in confidentiality_profile() if a.is_repeating}
    assert set(masks) == {"50xx,xxxx", "60xx,3000", "60xx,4000", "60xx,0022", "60xx,1500"}
    assert {a.action for a in masks.values()} == {"X"}
    assert masks["60xx,4000"].keyword == "OverlayComments"
    curve, comments = masks["50xx,xxxx"], masks["60xx,4000"]
    assert all(comments.matches(f"{group:04X},4000") for group in range(0x6000, 0x6020, 2))
    assert not comments.matches("6001,4000") and not comments.matches("6020,4000")
    assert not comments.matches("6000,3000")
    assert curve.matches("501E,1234") and curve.matches("CurveData")
    assert not curve.matches("5020,3000") and not curve.matches("5001,3000")
    assert len(confidentiality_profile()) == 623  # 617 rows of the table, 1 + 5 above


def test_overlays_curves_private_tags_and_burned_in_text_are_reported() -> None:
    dataset = _ct_with_overlays()
    findings = {f.tag: f for f in check_anonymized(dataset)}
    assert findings["6000,4000"].value == "Jane Smith, DOB 1961-04-15"
    assert findings["6000,4000"].reason == "should have been removed"
    assert findings["6002,0022"].keyword == "OverlayDescription"
    assert findings["6000,3000"].keyword == "OverlayData" and findings["6000,3000"].value == ""
    assert findings["501E,2500"].keyword == "CurveData"
    assert "6000,0010" not in findings  # overlay rows: not identifying
    private = findings["0029,1101"]
    assert (private.kind, private.value) == ("private", "Jane Smith")
    assert "'ACME 1.0'" in private.reason
    assert "0029,0011" not in findings  # private creators are not reported themselves
    assert {f.kind for f in findings.values() if f.tag.startswith("0009")} == {"private"}
    burned = findings["0028,0301"]
    assert burned.kind == "burned_in" and "review" in burned.reason
    assert {f.kind for f in findings.values()} == {"profile", "private", "burned_in"}


def test_orthanc_short_nulls_count_as_present_and_keep_takes_masks() -> None:
    tags = {"6004,3000": None, "5000,0005": "2", "0028,0301": "NO", "6004,4000": ""}
    assert [(f.tag, f.keyword) for f in check_anonymized(tags)] == [
        ("5000,0005", "CurveData"),
        ("6004,3000", "OverlayData"),
    ]
    assert check_anonymized(tags, keep=["60xx,3000", "50xx,xxxx"]) == []
    assert [f.tag for f in check_anonymized(tags, keep=["OverlayData"])] == [
        "5000,0005",
        "6004,3000",  # OverlayData is 6000,3000, as in pydicom and Orthanc
    ]
    # a binary D attribute (Encapsulated Document) Orthanc keeps cannot be compared: reported
    binary = check_anonymized({"0042,0011": None}, original={"0042,0011": None})
    assert [f.keyword for f in binary] == ["EncapsulatedDocument"]
    assert check_anonymized({"0042,0011": None}) == []


def test_profile_removals_cover_curves_overlays_and_the_x_rows() -> None:
    removals = profile_removals()
    assert len(removals) == len(set(removals))
    for group in range(0x6000, 0x6020, 2):
        for element in ("3000", "4000", "0022", "1500", "0010"):
            assert f"{group:04X},{element}" in removals
    assert {"5000,3000", "501E,2500", "0008,0012", "0010,1040", "0018,1204"} <= set(removals)
    rows = {a.tag: a.action for a in confidentiality_profile() if not a.is_repeating}
    assert {rows[tag] for tag in removals if tag in rows} == {"X", "X/D", "X/Z", "X/Z/D"}
    assert "0008,1140" not in removals  # X/Z/U*: Orthanc keeps the sequence, new UIDs inside
    assert not any(int(tag[:4], 16) % 2 for tag in removals)


def test_profile_removals_spare_what_the_caller_keeps_replaces_or_removes() -> None:
    removals = profile_removals(
        keep=["InstanceCreationDate", "6002,4000"],
        replace={"0018,1204": "20000101"},
        remove=["PatientAddress"],
    )
    assert not {"0008,0012", "6002,4000", "0018,1204", "0010,1040"} & set(removals)
    # an overlay the caller keeps part of loses its profile rows only
    assert {"6002,3000", "6002,0022", "6002,1500"} <= set(removals)
    assert "6002,0010" not in removals and "6000,0010" in removals
