"""A fast path for the identifiers of common DICOM files, with pydicom as the fallback.

Reading the five identifiers Orthanc hashes (PatientID and the three UIDs, plus the character
set) with pydicom costs about a millisecond per file, which is as long as the server takes to
store a small file. Most files are little-endian (explicit or implicit VR) with those elements,
in ASCII, before any sequence of undefined length: for them one struct read per element on the
first kilobytes is enough, and the walk stops at SeriesInstanceUID, the last of them. Anything
else answers None, and the caller uses pydicom.
"""

from __future__ import annotations

import struct

from .ids import identifier_text

__all__ = ["HEAD_BYTES", "fast_identifiers"]

HEAD_BYTES = 16 * 1024
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_IMPLICIT_LE = "1.2.840.10008.1.2"
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_SHORT_VRS = frozenset(
    {
        b"AE",
        b"AS",
        b"AT",
        b"CS",
        b"DA",
        b"DS",
        b"DT",
        b"FD",
        b"FL",
        b"IS",
        b"LO",
        b"LT",
        b"PN",
        b"SH",
        b"SL",
        b"SS",
        b"ST",
        b"TM",
        b"UI",
        b"UL",
        b"US",
    }
)
_WANTED = {
    0x00080005: "SpecificCharacterSet",
    0x00080018: "SOPInstanceUID",
    0x00100020: "PatientID",
    0x0020000D: "StudyInstanceUID",
    0x0020000E: "SeriesInstanceUID",
}
_META_END = 0x0002FFFF
_LAST_WANTED = 0x0020000E
_TRANSFER_SYNTAX = 0x00020010
_ASCII_CHARSETS = {"", "ISO_IR 6", "ISO_IR 100", "ISO_IR 192"}
_TEXT_VRS = frozenset({b"LO", b"SH", b"UI", b"UN"})
_DICTIONARY_VR = {0x00100020: b"LO"}
_EXPLICIT = struct.Struct("<HH2sH").unpack_from
_IMPLICIT = struct.Struct("<HHI").unpack_from
_LONG_LENGTH = struct.Struct("<I").unpack_from
_UNDEFINED = 0xFFFFFFFF


def fast_identifiers(head: bytes) -> dict[str, str] | None:
    """The identifiers of a DICOM file from its first bytes, or None to ask pydicom.

    Example:
        >>> fast_identifiers(b"not dicom") is None
        True
    """
    if len(head) < 144 or head[128:132] != b"DICM":
        return None
    meta = _elements(head, 132, explicit=True, last=_META_END, wanted={_TRANSFER_SYNTAX: ""})
    if meta is None:
        return None
    values, offset = meta
    syntax = values.get(_TRANSFER_SYNTAX, (b"", b""))[1].rstrip(b"\0 ").decode("ascii", "replace")
    if syntax not in (_EXPLICIT_LE, _IMPLICIT_LE):
        return None
    found = _elements(
        head, offset, explicit=syntax == _EXPLICIT_LE, last=_LAST_WANTED, wanted=_WANTED
    )
    return None if found is None else _decoded(found[0])


def _elements(
    data: bytes, offset: int, *, explicit: bool, last: int, wanted: dict[int, str]
) -> tuple[dict[int, tuple[bytes, bytes]], int] | None:
    """Walk elements from ``offset``, keeping the ``wanted`` values with their VR (the
    dictionary's, ``LO`` or ``UI``, in implicit VR), until past the tag ``last``: the values
    and the offset reached, or None when unsure."""
    values: dict[int, tuple[bytes, bytes]] = {}
    end = len(data)
    while offset + 8 <= end:
        if explicit:
            group, element, vr, length = _EXPLICIT(data, offset)
        else:
            group, element, length = _IMPLICIT(data, offset)
        tag = group << 16 | element
        if tag > last:
            return values, offset
        start = offset + 8
        if explicit and vr not in _SHORT_VRS:
            if vr not in _LONG_VRS or offset + 12 > end:
                return None
            length, start = _LONG_LENGTH(data, start)[0], offset + 12
        if length == _UNDEFINED or start + length > end:
            return None  # a sequence of undefined length, or beyond what was read
        if tag in wanted:
            found_vr = vr if explicit else _DICTIONARY_VR.get(tag, b"UI")
            values[tag] = (found_vr, data[start : start + length])
        offset = start + length
    return None


def _decoded(values: dict[int, tuple[bytes, bytes]]) -> dict[str, str] | None:
    """The identifiers as Orthanc stores them (:func:`~kkorthanc._dicom.ids.identifier_text`), or
    None for what pydicom must decode: non-ASCII text, several values, an unusual VR."""
    texts: dict[str, str] = {}
    for tag, keyword in _WANTED.items():
        vr, raw = values.get(tag, (b"UI", b""))
        if not raw.isascii() or b"\\" in raw or (tag != 0x00080005 and vr not in _TEXT_VRS):
            return None
        texts[keyword] = identifier_text(raw.decode("ascii"), vr.decode("ascii"))
    if texts["SpecificCharacterSet"].strip(" \0") not in _ASCII_CHARSETS:
        return None
    return texts
