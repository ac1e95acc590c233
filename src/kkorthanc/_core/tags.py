"""DICOM values as Orthanc writes them in ``MainDicomTags``, turned into Python values. No I/O.

Orthanc gives every main tag as text: dates as ``YYYYMMDD``, times as ``HHMMSS.ffffff``, numbers
as text, multiple values joined by ``\\``. An empty or absent value is None (absent is not a
failure); a value that does not parse is an :class:`~kkorthanc.errors.UnexpectedContentError`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any, Union

from ..errors import UnexpectedContentError

__all__ = [
    "TagValue",
    "convert",
    "parse_date",
    "parse_decimals",
    "parse_integer",
    "parse_time",
    "parse_value",
]

TagValue = Union[str, int, float, datetime.date, datetime.time, tuple[float, ...], None]


def parse_date(text: str) -> datetime.date | None:
    """Read a DICOM date (DA): ``YYYYMMDD``, or the old ``YYYY.MM.DD``; empty gives None.

    Raises:
        UnexpectedContentError: Not a date.

    Example:
        >>> parse_date("20210131")
        datetime.date(2021, 1, 31)
    """
    value = text.strip().replace(".", "") if len(text.strip()) == 10 else text.strip()
    if not value:
        return None
    if len(value) != 8 or not value.isdigit():
        raise UnexpectedContentError(f"{text!r} is not a DICOM date (YYYYMMDD)")
    try:
        return datetime.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError as error:
        raise UnexpectedContentError(f"{text!r} is not a valid date: {error}") from error


def parse_time(text: str) -> datetime.time | None:
    """Read a DICOM time (TM): ``HH``, ``HHMM``, ``HHMMSS`` with optional fraction; empty: None.

    Raises:
        UnexpectedContentError: Not a time.

    Example:
        >>> parse_time("185059.5")
        datetime.time(18, 50, 59, 500000)
    """
    value = text.strip().replace(":", "")
    if not value:
        return None
    whole, _, fraction = value.partition(".")
    if len(whole) not in (2, 4, 6) or not whole.isdigit() or not (fraction or "0").isdigit():
        raise UnexpectedContentError(f"{text!r} is not a DICOM time (HHMMSS.ffffff)")
    hours, minutes, seconds = int(whole[:2]), int(whole[2:4] or 0), int(whole[4:6] or 0)
    micro = int((fraction + "000000")[:6]) if fraction else 0
    try:
        return datetime.time(hours, minutes, min(seconds, 59), micro)
    except ValueError as error:
        raise UnexpectedContentError(f"{text!r} is not a valid time: {error}") from error


def parse_integer(text: str) -> int | None:
    """Read a DICOM integer string (IS); empty gives None.

    Raises:
        UnexpectedContentError: Not an integer.

    Example:
        >>> parse_integer(" 12 ")
        12
    """
    value = text.strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        try:
            number = float(value)  # some writers put "3.0" in an IS
        except ValueError as error:
            raise UnexpectedContentError(f"{text!r} is not a DICOM integer") from error
        if not number.is_integer():
            raise UnexpectedContentError(f"{text!r} is not a DICOM integer") from None
        return int(number)


def parse_decimals(text: str) -> tuple[float, ...] | None:
    """Read one or several DICOM decimal strings (DS) joined by ``\\``; empty gives None.

    Raises:
        UnexpectedContentError: A part is not a number.

    Example:
        >>> parse_decimals("1.0\\\\0\\\\-2.5")
        (1.0, 0.0, -2.5)
    """
    if not text.strip():
        return None
    try:
        return tuple(float(part) for part in text.split("\\"))
    except ValueError as error:
        raise UnexpectedContentError(f"{text!r} is not a list of DICOM decimals") from error


def _text(text: str) -> str | None:
    value = text.strip()
    return value or None


_DATES = ("PatientBirthDate", "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate")
_TIMES = ("StudyTime", "SeriesTime", "AcquisitionTime", "ContentTime", "InstanceCreationTime")
_INTEGERS = (
    "SeriesNumber",
    "InstanceNumber",
    "AcquisitionNumber",
    "NumberOfFrames",
    "NumberOfTemporalPositions",
    "NumberOfSlices",
    "CardiacNumberOfImages",
    "ImagesInAcquisition",
    "TemporalPositionIdentifier",
)
_DECIMALS = ("ImagePositionPatient", "ImageOrientationPatient")

_PARSERS: dict[str, Callable[[str], Any]] = {
    **dict.fromkeys((*_DATES, "InstanceCreationDate"), parse_date),
    **dict.fromkeys(_TIMES, parse_time),
    **dict.fromkeys(_INTEGERS, parse_integer),
    **dict.fromkeys(_DECIMALS, parse_decimals),
}


def parse_value(keyword: str, text: str) -> TagValue:
    """Turn the text of a main tag into its Python value, by the tag's keyword.

    Dates become :class:`datetime.date`, times :class:`datetime.time`, counts and numbers
    :class:`int`, positions and orientations tuples of floats; other tags stay text, stripped.
    Empty values give None.

    Raises:
        UnexpectedContentError: The text does not parse as the tag's type.

    Example:
        >>> parse_value("StudyDate", "20040826"), parse_value("Modality", "CT ")
        (datetime.date(2004, 8, 26), 'CT')
    """
    parser = _PARSERS.get(keyword, _text)
    try:
        result: TagValue = parser(text)
    except UnexpectedContentError as error:
        raise UnexpectedContentError(f"main tag {keyword}: {error}") from error
    return result


def convert(tags: Mapping[str, Any], keyword: str) -> TagValue:
    """The Python value of ``keyword`` in a ``MainDicomTags`` mapping; None when absent or empty.

    Raises:
        UnexpectedContentError: The value does not parse as the tag's type.

    Example:
        >>> convert({"SeriesNumber": "3"}, "SeriesNumber")
        3
    """
    text = tags.get(keyword)
    if text is None:
        return None
    return parse_value(keyword, str(text))
