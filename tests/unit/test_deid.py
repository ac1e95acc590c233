"""The confidentiality-profile checker, on real pydicom datasets and Orthanc-style mappings."""

from __future__ import annotations

import copy

import pydicom
import pytest
from pydicom.data import get_testdata_file

from kkorthanc import Finding, check_anonymized, confidentiality_profile
from kkorthanc.errors import OrthancInputError


def _ct() -> pydicom.Dataset:
    path = get_testdata_file("CT_small.dcm", download=False)
    assert isinstance(path, str)
    return pydicom.dcmread(path)


def test_profile_covers_the_common_identifying_attributes() -> None:
    keywords = {attribute.keyword: attribute.action for attribute in confidentiality_profile()}
    for keyword in [
        "PatientName", "PatientID", "PatientBirthDate", "PatientAddress",
        "PatientTelephoneNumbers", "InstitutionName", "ReferringPhysicianName",
        "OperatorsName", "AccessionNumber", "OtherPatientIDs", "DeviceSerialNumber",
        "StudyInstanceUID", "SOPInstanceUID",
    ]:  # fmt: skip
        assert keyword in keywords, keyword
    assert keywords["StudyInstanceUID"] == "U" and keywords["PatientAddress"] == "X"
    assert all(len(attribute.tag) == 9 for attribute in confidentiality_profile())


def test_profile_has_the_2024e_rows_orthanc_1_10_keeps() -> None:
    # Orthanc 1.10.1 (profile 2021b) and 1.12.7 keep these; Table E.1-1 (2024e) says remove
    actions = {attribute.keyword: attribute.action for attribute in confidentiality_profile()}
    for keyword in ["DateOfManufacture", "DateOfInstallation", "IssuerOfClinicalTrialSiteID",
                    "ROICreatorSequence", "CalibrationDate", "StudyArrivalDate"]:  # fmt: skip
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
        if attribute.keyword in clean:
            delattr(clean, attribute.keyword)
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
