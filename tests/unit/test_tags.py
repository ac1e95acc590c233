"""DICOM value conversion of main tags."""

from __future__ import annotations

import datetime

import pytest

from kkorthanc._core.tags import (
    convert,
    parse_date,
    parse_decimals,
    parse_integer,
    parse_time,
    parse_value,
)
from kkorthanc.errors import UnexpectedContentError


def test_dates() -> None:
    assert parse_date("20040826") == datetime.date(2004, 8, 26)
    assert parse_date("2004.08.26") == datetime.date(2004, 8, 26)
    assert parse_date("") is None and parse_date("  ") is None
    for bad in ["2004082", "20041326", "2004O826"]:
        with pytest.raises(UnexpectedContentError):
            parse_date(bad)


def test_times() -> None:
    assert parse_time("185059") == datetime.time(18, 50, 59)
    assert parse_time("1850") == datetime.time(18, 50)
    assert parse_time("18") == datetime.time(18)
    assert parse_time("072730.123") == datetime.time(7, 27, 30, 123000)
    assert parse_time("18:50:59") == datetime.time(18, 50, 59)
    assert parse_time("235960") == datetime.time(23, 59, 59)  # leap second kept in range
    with pytest.raises(UnexpectedContentError):
        parse_time("2561")
    with pytest.raises(UnexpectedContentError):
        parse_time("12345")


def test_numbers() -> None:
    assert parse_integer(" 12 ") == 12 and parse_integer("3.0") == 3 and parse_integer("") is None
    with pytest.raises(UnexpectedContentError):
        parse_integer("3.5")
    with pytest.raises(UnexpectedContentError):
        parse_integer("x")
    assert parse_decimals("1\\-2.5\\3e1") == (1.0, -2.5, 30.0)
    with pytest.raises(UnexpectedContentError):
        parse_decimals("1\\a")


def test_values_by_keyword() -> None:
    assert parse_value("StudyDate", "20210101") == datetime.date(2021, 1, 1)
    assert parse_value("SeriesNumber", "7") == 7
    assert parse_value("Modality", " CT ") == "CT" and parse_value("StudyDescription", "") is None
    assert convert({"InstanceNumber": "3"}, "InstanceNumber") == 3
    assert convert({}, "InstanceNumber") is None
    with pytest.raises(UnexpectedContentError, match="StudyDate"):
        parse_value("StudyDate", "yesterday")
