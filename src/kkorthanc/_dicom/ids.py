"""Orthanc identifiers computed offline, exactly as the server computes them."""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from typing import IO, TYPE_CHECKING, NamedTuple, Union

from .._util.lazy import is_dataset
from ..errors import OrthancInputError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["ResourceIds", "orthanc_id", "orthanc_ids"]

_ID_TAGS = [
    "SpecificCharacterSet",
    "PatientID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
]
_CHARSET_TAG = 0x00080005
_IDENTIFIER_TAGS = (0x00100020, 0x0020000D, 0x0020000E, 0x00080018)
_DICTIONARY_VRS = {0x00100020: "LO", 0x0020000D: "UI", 0x0020000E: "UI", 0x00080018: "UI"}
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ"})
_BACKSLASH = {0x5C}
_ESCAPE = re.compile(rb"\x1b[\x20-\x2f]*[\x30-\x7e]")

DicomSource = Union["Dataset", str, os.PathLike[str], IO[bytes]]


def identifier_text(text: str, vr: str) -> str:
    """An identifier's value as Orthanc stores and hashes it, from the decoded text of the
    element as the file holds it (padding included) and the VR it is encoded with.

    Measured on Orthanc 1.10.1 and 1.12.7: a UI value loses every space and ends at its first
    NUL; a value encoded as UN loses one trailing NUL and nothing else (its spaces count); any
    other text VR loses its trailing spaces, then ends at its first NUL. Leading spaces and the
    backslashes of several values are kept.

    Example:
        >>> identifier_text("PANCREAS_0001 ", "UN"), identifier_text("P1 ", "LO")
        ('PANCREAS_0001 ', 'P1')
    """
    if vr == "UI":
        return text.split("\x00", 1)[0].replace(" ", "")
    if vr == "UN":
        return text[:-1] if text.endswith("\x00") else text
    return text.rstrip(" ").split("\x00", 1)[0]


def orthanc_id(
    patient_id: str,
    study_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
) -> str:
    """Compute the Orthanc ID of a patient, study, series or instance from its DICOM identifiers.

    The level is given by how many identifiers are passed: a PatientID alone gives the patient's
    ID, adding the StudyInstanceUID gives the study's, and so on. Values are taken exactly as
    the server stores them (``patient.patient_id``, what :func:`orthanc_ids` reads from a file):
    nothing is stripped, because a PatientID encoded as UN keeps its trailing spaces on the
    server (``"PANCREAS_0001 "`` is another patient than ``"PANCREAS_0001"``).

    Args:
        patient_id: The PatientID (the empty string when the file has none).
        study_instance_uid: The StudyInstanceUID, for a study or anything below.
        series_instance_uid: The SeriesInstanceUID, for a series or an instance.
        sop_instance_uid: The SOPInstanceUID, for an instance.

    Raises:
        OrthancInputError: A lower-level identifier given without the ones above it.

    Example:
        >>> orthanc_id("P1")
        'bdaf1eca-33d4619e-80e8ca68-9a1b74a4-febbbb29'
        >>> orthanc_id("P1 ") == orthanc_id("P1")
        False
    """
    parts = [patient_id, study_instance_uid, series_instance_uid, sop_instance_uid]
    while parts and parts[-1] is None:
        parts.pop()
    if any(part is None for part in parts):
        raise OrthancInputError(
            "orthanc_id() needs every identifier above the level asked for "
            "(PatientID, then StudyInstanceUID, then SeriesInstanceUID, then SOPInstanceUID)"
        )
    text = "|".join(str(part) for part in parts)
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()
    return "-".join(digest[i : i + 8] for i in range(0, 40, 8))


class ResourceIds(NamedTuple):
    """The Orthanc IDs of an instance and of its parents.

    Example:
        >>> ids = orthanc_ids(pydicom.examples.ct)  # doctest: +SKIP
        >>> ids.study  # doctest: +SKIP
        '8a8cf898-ca27c490-d0c7058c-929d0581-2bbf104d'
    """

    patient: str
    study: str
    series: str
    instance: str


def orthanc_ids(source: DicomSource) -> ResourceIds:
    """Compute the Orthanc IDs of one DICOM instance and its parents, reading only its header.

    The identifiers are read as the server reads them (see :func:`identifier_text`): from the
    bytes of each element, decoded with the file's character set (Latin-1 without one, Orthanc's
    default), with the padding rules of the VR the file uses. A file without a preamble or file
    meta header is read too, as Orthanc stores such files.

    Args:
        source: A pydicom ``Dataset``, a file path, or a binary file object.

    Raises:
        OrthancInputError: The source is not DICOM, lacks a Study, Series or SOP Instance UID,
            or encodes an identifier with a binary VR (OB, OW...), which Orthanc refuses.

    Example:
        >>> orthanc_ids("CT_small.dcm").instance  # doctest: +SKIP
        'f689ddd2-662f8fe1-8b18180d-ec2a2cee-937917af'
    """
    dataset = source if is_dataset(source) else read_header(source)
    patient, study, series, sop = read_identifiers(dataset)
    if not (study and series and sop):
        raise OrthancInputError(
            "a DICOM instance needs StudyInstanceUID, SeriesInstanceUID and SOPInstanceUID "
            "to be stored by Orthanc"
        )
    return ResourceIds(
        orthanc_id(patient),
        orthanc_id(patient, study),
        orthanc_id(patient, study, series),
        orthanc_id(patient, study, series, sop),
    )


def read_identifiers(dataset: Dataset) -> tuple[str, str, str, str]:
    """PatientID and the Study, Series and SOP Instance UIDs of a dataset, as Orthanc stores
    them (the empty string for an absent one).

    Elements pydicom has not converted yet are read from their bytes; converted ones from
    their value, as pydicom would write it.

    Raises:
        OrthancInputError: An identifier encoded with a binary VR.

    Example:
        >>> read_identifiers(pydicom.dcmread("CT_small.dcm"))[0]  # doctest: +SKIP
        '1CT1'
    """
    implicit = _is_implicit(dataset)
    charset = _charset(dataset)
    patient, study, series, sop = (
        _identifier(dataset, tag, charset, implicit=implicit) for tag in _IDENTIFIER_TAGS
    )
    return patient, study, series, sop


def _identifier(
    dataset: Dataset, tag: int, charset: tuple[list[str], list[str]], *, implicit: bool
) -> str:
    element = dataset.get_item(tag)
    if element is None:
        return ""
    vr = _DICTIONARY_VRS[tag] if implicit or not element.VR else str(element.VR)
    if vr in _BINARY_VRS:
        raise OrthancInputError(
            f"the file encodes {_ID_TAGS[1 + _IDENTIFIER_TAGS.index(tag)]} with the binary VR "
            f"{vr}, which Orthanc refuses ('Bad type for a parameter')"
        )
    value = element.value
    if isinstance(value, bytes):
        text = _decode(value, charset)
    elif value is None:
        text = ""
    else:
        from pydicom.multival import MultiValue

        parts = value if isinstance(value, MultiValue | list | tuple) else [value]
        text = "\\".join(str(part) for part in parts)
    return identifier_text(text, vr)


def _decode(value: bytes, charset: tuple[list[str], list[str]]) -> str:
    from pydicom.charset import decode_bytes

    terms, encodings = charset
    if len(terms) > 1 and terms[0] in _OWN_DECODING:
        # Measured on 1.10.1 and 1.12.7: with "ISO 2022 IR 13" or "ISO 2022 IR 6" first and
        # code extensions, Orthanc does not switch character sets at the escape sequences.
        return _OWN_DECODING[terms[0]](value)
    with warnings.catch_warnings():  # a bad byte is replaced, as the server replaces it
        warnings.simplefilter("ignore")
        return decode_bytes(value, encodings, _BACKSLASH)


def _charset(dataset: Dataset) -> tuple[list[str], list[str]]:
    """The terms of the dataset's SpecificCharacterSet and their Python encodings (Latin-1,
    Orthanc's default, without one). Orthanc reads a character set it does not support, or
    one encoded as UN, as ASCII without its special characters: the term ``"?"`` says so."""
    from pydicom.charset import convert_encodings, python_encoding

    element = dataset.get_item(_CHARSET_TAG)
    value = None if element is None else element.value
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str):
        value = value.strip(" \x00").split("\\")
    terms = [str(term).strip(" \x00") for term in value or []]
    unknown = any(term and term not in python_encoding for term in terms)
    if unknown or (element is not None and element.VR == "UN"):
        return ["?", "?"], ["ascii"]
    return terms, convert_encodings(terms or ["ISO_IR 100"])


def _jis_x_0201(value: bytes) -> str:
    """Escape sequences dropped, every byte read as JIS X 0201 (JIS X 0208 stays 7-bit)."""
    return _ESCAPE.sub(b"", value).decode("shift_jis", "replace")


def _printable_ascii(value: bytes) -> str:
    """Only the bytes that are printable ASCII (escape bytes dropped, what follows kept)."""
    return bytes(byte for byte in value if 0x20 <= byte < 0x7F).decode("ascii")


_OWN_DECODING = {
    "ISO 2022 IR 13": _jis_x_0201,
    "ISO 2022 IR 6": _printable_ascii,
    "?": _printable_ascii,
}


def _is_implicit(dataset: Dataset) -> bool:
    """Whether the dataset's elements carry no VR (implicit VR little endian)."""
    meta = getattr(dataset, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if syntax is not None:
        return str(syntax) == "1.2.840.10008.1.2"
    encoding = getattr(dataset, "original_encoding", (None, None))[0]
    return bool(encoding if encoding is not None else getattr(dataset, "is_implicit_VR", False))


def read_header(source: str | os.PathLike[str] | IO[bytes]) -> Dataset:
    """The elements :func:`read_identifiers` needs, read with pydicom and left unconverted;
    a file without a preamble or file meta header is read too (Orthanc stores such files).

    Raises:
        OrthancInputError: Not a readable DICOM file.

    Example:
        >>> read_identifiers(read_header("rtstruct.dcm"))[0]  # doctest: +SKIP
        'tPhantom30sep'
    """
    start = source.tell() if hasattr(source, "tell") else 0
    with warnings.catch_warnings():  # about the file's charset or UIDs: not what is read here
        warnings.simplefilter("ignore")
        return _dcmread(source, start)


def _dcmread(source: str | os.PathLike[str] | IO[bytes], start: int) -> Dataset:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        try:
            return pydicom.dcmread(source, stop_before_pixels=True, specific_tags=_ID_TAGS)
        except InvalidDicomError:  # no preamble or file meta header: Orthanc takes such files
            if hasattr(source, "seek"):
                source.seek(start)
            dataset = pydicom.dcmread(
                source, stop_before_pixels=True, specific_tags=_ID_TAGS, force=True
            )
            if dataset.get_item(_IDENTIFIER_TAGS[-1]) is None:
                raise InvalidDicomError("no DICOM header and no SOPInstanceUID") from None
            return dataset
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError) as error:
        raise OrthancInputError(f"not a readable DICOM file: {source!r}: {error}") from error
