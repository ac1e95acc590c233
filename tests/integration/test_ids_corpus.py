"""Orthanc IDs computed offline agree with the server on every file pydicom and pydicom-data ship.

Each file is uploaded once per server version (a module-scoped server of its own) and the IDs
of the ``POST /instances`` answer and of ``GET /instances/{id}`` are compared with what
:func:`kkorthanc.orthanc_ids` and the upload's fast identifier reader compute from the file.
Generated files add what the corpus has too little of: identifiers encoded as UN or OB, with
leading, trailing or inner spaces and NULs, several values, and every character set of
pydicom's charset files. Files the server refuses are skipped (44 of the 271 shipped files on
both versions: DICOMDIRs, files without a SOPInstanceUID, and files that are not DICOM).
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom import data
from pydicom.charset import convert_encodings, encode_string

import kkorthanc
from kkorthanc import orthanc_id, orthanc_ids
from kkorthanc._dicom.fastids import HEAD_BYTES, fast_identifiers
from kkorthanc._dicom.ids import read_header, read_identifiers
from kkorthanc.errors import OrthancInputError
from kkorthanc.testing import OrthancServer, ServerSpec

UN_PATIENT = "PANCREAS_0001 "  # explicit_VR-UN.dcm: the PatientID encoded as UN, space included
_PATIENT_ID, _STUDY_UID = 0x00100020, 0x0020000D


def shipped_files() -> list[Path]:
    """Every file of pydicom's test data, charset files and palettes, and of pydicom-data."""
    found = set(data.get_testdata_files()) | set(data.get_charset_files())
    found |= set(data.get_palette_files("*"))
    return sorted(Path(name) for name in found if Path(name).is_file())


def _explicit(dataset: pydicom.Dataset, tag: int, vr: bytes, raw: bytes) -> bytes:
    """The dataset as explicit VR little endian, with the element ``tag`` replaced by ``raw``
    encoded with ``vr`` (pydicom itself would convert a UN value of a known tag)."""
    dataset = pydicom.Dataset(dataset)
    dataset.file_meta = pydicom.dataset.FileMetaDataset(getattr(dataset, "file_meta", {}))
    dataset.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    dataset.pop(0x7FE00010, None)
    marker = "9.9.9.9.9.9" if tag == _STUDY_UID else "ZZMARKERZZ"
    dataset[tag] = pydicom.DataElement(tag, "UI" if tag == _STUDY_UID else "LO", marker)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    body = buffer.getvalue()
    head = struct.pack("<HH", tag >> 16, tag & 0xFFFF)
    start = body.index(head + (b"UI" if tag == _STUDY_UID else b"LO"))
    end = start + 8 + struct.unpack("<H", body[start + 6 : start + 8])[0]
    raw += b" " * (len(raw) % 2)
    if vr in (b"UN", b"OB", b"UT"):
        element = head + vr + b"\0\0" + struct.pack("<I", len(raw)) + raw
    else:
        element = head + vr + struct.pack("<H", len(raw)) + raw
    return body[:start] + element + body[end:]


_EDGES: list[tuple[int, bytes, bytes]] = [
    (_PATIENT_ID, b"UN", b"PAT1  "),
    (_PATIENT_ID, b"UN", b" PAT1 "),
    (_PATIENT_ID, b"UN", b"PAT1\0\0"),
    (_PATIENT_ID, b"UN", b"PA\0T1\0"),
    (_PATIENT_ID, b"UN", b"A \\ B "),
    (_PATIENT_ID, b"UN", b"P\xe9T1  "),
    (_PATIENT_ID, b"OB", b"PAT1"),  # refused by the server: skipped
    (_PATIENT_ID, b"LO", b" PAT1 "),
    (_PATIENT_ID, b"LO", b"PAT1 \0  "),
    (_PATIENT_ID, b"LO", b"PA\0T1 "),
    (_PATIENT_ID, b"LO", b" A\\ B  "),
    (_PATIENT_ID, b"LO", b"PAT1\t "),
    (_PATIENT_ID, b"SH", b"P\xe9T1  "),
    (_PATIENT_ID, b"UT", b" PAT1 "),
    (_PATIENT_ID, b"LO", b"\0\0"),
    (_STUDY_UID, b"UN", b"1.2.3 "),
    (_STUDY_UID, b"UN", b" 1.2.3 \0"),
    (_STUDY_UID, b"UI", b" 1.2 .3\0 "),
]


def generated_files() -> list[tuple[str, bytes]]:
    """Identifiers encoded in the ways real files do, on pydicom's CT_small.dcm, and the
    PatientName of each charset file used as its PatientID, as LO and as UN."""
    ct = pydicom.dcmread(data.get_testdata_file("CT_small.dcm"))
    files = [
        (f"CT_small {vr.decode()} {raw!r}", _explicit(ct, tag, vr, raw)) for tag, vr, raw in _EDGES
    ]
    for term, vr in [("ISO_IR 999", b"CS")]:  # unknown to Orthanc: read as ASCII only
        dataset = pydicom.Dataset(ct)
        dataset.SpecificCharacterSet = term
        with warnings.catch_warnings():  # pydicom warns about the unknown term
            warnings.simplefilter("ignore")
            body = _explicit(dataset, _PATIENT_ID, b"LO", b"P\xe9T\x1b1 ")
        head = b"\x08\x00\x05\x00CS"
        start = body.index(head)
        length = struct.unpack("<H", body[start + 6 : start + 8])[0]
        raw = body[start + 8 : start + 8 + length]
        element = (
            head[:4]
            + vr
            + (b"\0\0" + struct.pack("<I", length) if vr == b"UN" else struct.pack("<H", length))
        )
        files.append(
            (
                f"CT_small charset {term} as {vr.decode()}",
                body[:start] + element + raw + body[start + 8 + length :],
            )
        )
    for name in sorted(data.get_charset_files("*.dcm")):
        dataset = pydicom.dcmread(name)
        if "PatientName" not in dataset or "SOPInstanceUID" not in dataset:
            continue
        encodings = convert_encodings(dataset.get("SpecificCharacterSet", "ISO_IR 6"))
        raw = encode_string(str(dataset.PatientName), encodings)
        for vr in (b"LO", b"UN"):
            dataset.SOPInstanceUID = pydicom.uid.generate_uid()
            files.append(
                (f"{Path(name).name} {vr.decode()}", _explicit(dataset, _PATIENT_ID, vr, raw))
            )
    return files


@dataclass
class Stored:
    """What one server answered for every file."""

    server: OrthancServer
    answers: dict[str, tuple[bytes, dict[str, Any]]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def stored(orthanc_spec: ServerSpec) -> Iterator[Stored]:
    """A server of its own holding every shipped and generated file it accepts."""
    if orthanc_spec.url is not None:
        pytest.skip("needs a server this test starts (it stores 300 files)")
    files = [(str(path), path.read_bytes()) for path in shipped_files()] + generated_files()
    with OrthancServer.start(orthanc_spec.binary, label="ids") as server, server.client() as http:
        result = Stored(server)
        for name, body in files:
            answer = http.post("/instances", content=body)
            if answer.status_code == 200:
                result.answers[name] = (body, answer.json())
            else:
                result.refused.append(name)
        yield result


def _server_ids(http: Any, answer: dict[str, Any]) -> tuple[str, str, str, str]:
    instance = http.get(f"/instances/{answer['ID']}").json()
    series = http.get(f"/series/{instance['ParentSeries']}").json()
    study = http.get(f"/studies/{series['ParentStudy']}").json()
    assert (study["ParentPatient"], study["ID"], series["ID"], instance["ID"]) == (
        answer["ParentPatient"],
        answer["ParentStudy"],
        answer["ParentSeries"],
        answer["ID"],
    )
    return study["ParentPatient"], study["ID"], series["ID"], instance["ID"]


def test_every_file_gets_the_servers_ids(stored: Stored) -> None:
    shipped = {str(path) for path in shipped_files()}
    assert len(set(stored.answers) & shipped) >= 220, stored.refused
    assert len([name for name in stored.refused if name in shipped]) <= 44, stored.refused
    wrong = {}
    with stored.server.client() as http:
        for name, (body, answer) in stored.answers.items():
            expected = _server_ids(http, answer)
            computed = tuple(orthanc_ids(io.BytesIO(body)))
            fast = fast_identifiers(body[:HEAD_BYTES])
            if fast is not None:  # the upload's fast reader, when it takes the file
                computed_fast = tuple(orthanc_ids_from(fast))
                if computed_fast != expected:
                    wrong[name + " (fast)"] = computed_fast
            if computed != expected:
                wrong[name] = computed
    assert not wrong


def orthanc_ids_from(fast: dict[str, str]) -> kkorthanc.ResourceIds:
    patient = fast["PatientID"]
    uids = [fast[key] for key in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")]
    return kkorthanc.ResourceIds(
        orthanc_id(patient),
        orthanc_id(patient, uids[0]),
        orthanc_id(patient, *uids[:2]),
        orthanc_id(patient, *uids),
    )


def test_identifiers_read_as_the_server_stores_them(stored: Stored) -> None:
    with stored.server.client() as http:
        for name, (body, answer) in stored.answers.items():
            patient, study, _, sop = read_identifiers(read_header(io.BytesIO(body)))
            tags = http.get(f"/patients/{answer['ParentPatient']}").json()["MainDicomTags"]
            assert tags.get("PatientID", "") == patient, name
            tags = http.get(f"/studies/{answer['ParentStudy']}").json()["MainDicomTags"]
            assert tags["StudyInstanceUID"] == study, name
            tags = http.get(f"/instances/{answer['ID']}").json()["MainDicomTags"]
            assert tags["SOPInstanceUID"] == sop, name


def test_the_un_patient_keeps_its_trailing_space(stored: Stored) -> None:
    path = data.get_testdata_file("explicit_VR-UN.dcm")
    assert path is not None
    _, answer = stored.answers[path]
    assert answer["ParentPatient"] == orthanc_id(UN_PATIENT) == orthanc_ids(path).patient
    refused = [name for name in stored.refused if " OB " in name]
    assert refused, "the server stored a PatientID encoded as OB"
    with pytest.raises(OrthancInputError, match="binary VR OB"):
        orthanc_ids(io.BytesIO(dict(generated_files())[refused[0]]))
