"""Orthanc IDs computed offline (the server's own values are checked in integration tests)."""

from __future__ import annotations

import io

import pydicom
import pytest
from pydicom.data import get_charset_files, get_testdata_file

from kkorthanc import ResourceIds, orthanc_id, orthanc_ids
from kkorthanc._dicom.ids import identifier_text
from kkorthanc.errors import OrthancInputError


def test_known_ids() -> None:
    # Values given by Orthanc 1.10.1 and 1.12.7 for pydicom's CT_small.dcm.
    ids = orthanc_ids(get_testdata_file("CT_small.dcm"))
    assert isinstance(ids, ResourceIds)
    assert ids.study == "8a8cf898-ca27c490-d0c7058c-929d0581-2bbf104d"
    assert ids.series == "93034833-163e42c3-bc9a428b-194620cf-2c5799e5"
    assert ids.instance == "f689ddd2-662f8fe1-8b18180d-ec2a2cee-937917af"
    assert ids.patient == orthanc_id("1CT1")


def test_values_are_hashed_exactly_as_the_server_stores_them() -> None:
    # Orthanc keeps the trailing spaces of a PatientID encoded as UN: "P1 " is another patient.
    assert orthanc_id("P1 ") != orthanc_id("P1") != orthanc_id(" P1")
    assert orthanc_id("p1") != orthanc_id("P1")
    assert orthanc_id("P1", "1.2") != orthanc_id("P1 ", "1.2")


@pytest.mark.parametrize(
    ("text", "vr", "stored"),
    [
        ("PANCREAS_0001 ", "UN", "PANCREAS_0001 "),  # pydicom-data's explicit_VR-UN.dcm
        ("PAT1\x00\x00", "UN", "PAT1\x00"),  # one NUL of padding, no more
        ("PA\x00T1\x00", "UN", "PA\x00T1"),
        (" PAT1 ", "LO", " PAT1"),  # leading spaces count, trailing ones are padding
        ("PAT1 \x00  ", "LO", "PAT1 "),  # padding first, then the value ends at its NUL
        ("PA\x00T1 ", "LO", "PA"),
        ("A \\ B ", "LO", "A \\ B"),  # several values: kept whole, inner spaces too
        ("PAT1\t ", "SH", "PAT1\t"),
        (" 1.2 .3\x00 ", "UI", "1.2.3"),  # a UID loses every space
        ("1.2.3 ", "UN", "1.2.3 "),
    ],
)
def test_identifier_text_follows_the_server(text: str, vr: str, stored: str) -> None:
    # Each pair was measured on Orthanc 1.10.1 and 1.12.7 (MainDicomTags and the hashed IDs).
    assert identifier_text(text, vr) == stored


def test_un_identifiers_are_read_from_their_bytes() -> None:
    path = get_testdata_file("explicit_VR-UN.dcm", download=False)
    if path is None:
        pytest.skip("pydicom-data is not installed (it is in the dev extra)")
    ids = orthanc_ids(path)
    assert ids.patient == orthanc_id("PANCREAS_0001 ")
    assert ids == orthanc_ids(pydicom.dcmread(path, stop_before_pixels=True))


def test_files_without_a_header_are_read() -> None:
    path = get_testdata_file("rtstruct.dcm")
    assert orthanc_ids(path).patient == orthanc_id("tPhantom30sep")


def test_levels_need_their_parents() -> None:
    with pytest.raises(OrthancInputError):
        orthanc_id("P1", None, "1.2.3")


def test_sources_and_charsets() -> None:
    path = get_charset_files("chrX2.dcm")[0]
    dataset = pydicom.dcmread(path)
    with open(path, "rb") as handle:
        from_file = orthanc_ids(io.BytesIO(handle.read()))
    assert orthanc_ids(dataset) == orthanc_ids(path) == from_file
    assert from_file.patient == orthanc_id("X2EXAMPLE")


def test_not_dicom() -> None:
    with pytest.raises(OrthancInputError, match="not a readable DICOM"):
        orthanc_ids(io.BytesIO(b"hello, not a DICOM file" * 10))
    dataset = pydicom.Dataset()
    dataset.PatientID = "x"
    with pytest.raises(OrthancInputError, match="StudyInstanceUID"):
        orthanc_ids(dataset)


def test_a_backslash_in_patient_id_is_kept_whole() -> None:
    # pydicom reads "A\B" as two values; Orthanc hashes the text as stored. The value below is
    # what Orthanc 1.10.1 answered as ParentPatient for such a file.
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.PatientID = "A\\B"
    assert orthanc_ids(dataset).patient == "9ccc6040-cd7ba89f-c31d2e11-aa08f8bd-b2c6cedb"
    assert orthanc_ids(dataset).patient == orthanc_id("A\\B")
