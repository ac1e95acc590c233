"""A fast path for the identifiers of common DICOM files, with pydicom as the fallback.

Reading the five identifiers Orthanc hashes (PatientID and the three UIDs, plus the character
set) with pydicom costs about a millisecond per file, which is as long as the server takes to
store a small file. Most files are little-endian (explicit or implicit VR) with those elements,
in ASCII, before any sequence of undefined length: for them a few struct reads on the first
kilobytes are enough. Anything else answers None, and the caller uses pydicom.
"""

from __future__ import annotations

import struct

__all__ = ["HEAD_BYTES", "fast_identifiers"]

HEAD_BYTES = 16 * 1024
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_IMPLICIT_LE = "1.2.840.10008.1.2"
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT",
             b"UV"}  # fmt: skip
_WANTED = {
    (0x0008, 0x0005): "SpecificCharacterSet",
    (0x0008, 0x0018): "SOPInstanceUID",
    (0x0010, 0x0020): "PatientID",
    (0x0020, 0x000D): "StudyInstanceUID",
    (0x0020, 0x000E): "SeriesInstanceUID",
}
_ASCII_CHARSETS = {"", "ISO_IR 6", "ISO_IR 100", "ISO_IR 192"}


def fast_identifiers(head: bytes) -> dict[str, str] | None:
    """The identifiers of a DICOM file from its first bytes, or None to ask pydicom.

    Example:
        >>> fast_identifiers(b"not dicom") is None
        True
    """
    if len(head) < 144 or head[128:132] != b"DICM":
        return None
    meta = _elements(head, 132, explicit=True, stop_group=0x0002)
    if meta is None:
        return None
    values, offset = meta
    syntax = values.get((0x0002, 0x0010), b"").rstrip(b"\0 ").decode("ascii", "replace")
    if syntax not in (_EXPLICIT_LE, _IMPLICIT_LE):
        return None
    found = _elements(head, offset, explicit=syntax == _EXPLICIT_LE, stop_group=0x0020)
    return None if found is None else _decoded(found[0])


def _elements(
    data: bytes, offset: int, *, explicit: bool, stop_group: int
) -> tuple[dict[tuple[int, int], bytes], int] | None:
    """Walk elements from ``offset`` until past ``stop_group``; None when unsure."""
    values: dict[tuple[int, int], bytes] = {}
    while offset + 8 <= len(data):
        group, element = struct.unpack_from("<HH", data, offset)
        if group > stop_group:
            return values, offset
        header = _header(data, offset, explicit)
        if header is None:
            return None
        length, start = header
        if length == 0xFFFFFFFF or start + length > len(data):
            return None  # a sequence of undefined length, or beyond what was read
        if (group, element) in _WANTED or group == 0x0002:
            values[(group, element)] = data[start : start + length]
        offset = start + length
    return None


def _header(data: bytes, offset: int, explicit: bool) -> tuple[int, int] | None:
    if not explicit:
        return struct.unpack_from("<I", data, offset + 4)[0], offset + 8
    vr = data[offset + 4 : offset + 6]
    if not vr.isalpha() or not vr.isupper():
        return None
    if vr in _LONG_VRS:
        if offset + 12 > len(data):
            return None
        return struct.unpack_from("<I", data, offset + 8)[0], offset + 12
    return struct.unpack_from("<H", data, offset + 6)[0], offset + 8


def _decoded(values: dict[tuple[int, int], bytes]) -> dict[str, str] | None:
    texts: dict[str, str] = {}
    for tag, keyword in _WANTED.items():
        raw = values.get(tag, b"")
        if any(byte > 0x7F for byte in raw) or b"\\" in raw:
            return None  # non-ASCII or several values: pydicom decodes those exactly
        texts[keyword] = raw.decode("ascii").strip(" \0")
    if texts["SpecificCharacterSet"] not in _ASCII_CHARSETS:
        return None
    texts["PatientID"] = values.get((0x0010, 0x0020), b"").decode("ascii").rstrip(" \0")
    return texts
