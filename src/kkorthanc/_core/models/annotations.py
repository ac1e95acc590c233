"""Typed answers of the per-resource routes: statistics and attachment information. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import UnexpectedContentError
from .system import json_int

__all__ = ["AttachmentInfo", "ResourceStatistics"]


def _optional(raw: Mapping[str, Any], key: str) -> int | None:
    return None if raw.get(key) is None else json_int(raw, key)


@dataclass(frozen=True)
class ResourceStatistics:
    """The answer of ``GET /{level}/{id}/statistics``, sizes in bytes as integers.

    The server sends sizes as JSON strings; they are converted. Counts of child resources are
    None at the levels that have none (an instance has no ``CountInstances``).

    Attributes:
        disk_size: Bytes on disk of every attachment (DICOM files and user attachments).
        uncompressed_size: The same, before storage compression.
        dicom_disk_size: Bytes on disk of the DICOM files alone.
        dicom_uncompressed_size: The same, before storage compression.
        count_studies: Studies below (patients only), else None.
        count_series: Series below (patients and studies), else None.
        count_instances: Instances below (patients, studies, series), else None.
        raw: The whole JSON answer.

    Example:
        >>> stats = ResourceStatistics.from_json({"DiskSize": "39206",
        ...     "UncompressedSize": "39206", "DicomDiskSize": "39206",
        ...     "DicomUncompressedSize": "39206", "CountInstances": 1})
        >>> stats.disk_size, stats.count_instances, stats.count_series
        (39206, 1, None)
    """

    disk_size: int
    uncompressed_size: int
    dicom_disk_size: int | None
    dicom_uncompressed_size: int | None
    count_studies: int | None
    count_series: int | None
    count_instances: int | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, raw: Any) -> ResourceStatistics:
        """Build from the JSON of a resource's ``statistics`` route.

        Raises:
            UnexpectedContentError: Not an object, or a size that is not a number.
        """
        if not isinstance(raw, dict):
            raise UnexpectedContentError(f"expected statistics as an object, got {raw!r:.200}")
        return cls(
            disk_size=json_int(raw, "DiskSize"),
            uncompressed_size=json_int(raw, "UncompressedSize"),
            dicom_disk_size=_optional(raw, "DicomDiskSize"),
            dicom_uncompressed_size=_optional(raw, "DicomUncompressedSize"),
            count_studies=_optional(raw, "CountStudies"),
            count_series=_optional(raw, "CountSeries"),
            count_instances=_optional(raw, "CountInstances"),
            raw=raw,
        )


@dataclass(frozen=True)
class AttachmentInfo:
    """What the server knows of one attachment (``GET .../attachments/{name}/info``).

    Attributes:
        name: The attachment's name as asked (``"dicom"``, ``"1025"``, a declared name).
        content_type: Orthanc's numeric content type (1 is the DICOM file; >= 1024 for users).
        uncompressed_size: Its size in bytes.
        compressed_size: Its size on disk (equal unless storage compression is on).
        uncompressed_md5: The MD5 of its content.
        compressed_md5: The MD5 of what is on disk.
        etag: The ETag the server gave with it (send it back as ``if_match=``).
        raw: The whole JSON answer.

    Example:
        >>> info = AttachmentInfo.from_json("1025", {"ContentType": 1025,
        ...     "UncompressedSize": 5, "CompressedSize": 5,
        ...     "UncompressedMD5": "5d41", "CompressedMD5": "5d41"}, etag='"0-5d41"')
        >>> info.uncompressed_size, info.etag
        (5, '"0-5d41"')
    """

    name: str
    content_type: int
    uncompressed_size: int
    compressed_size: int
    uncompressed_md5: str
    compressed_md5: str
    etag: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, name: str, raw: Any, *, etag: str | None = None) -> AttachmentInfo:
        """Build from the JSON of an attachment's ``info`` route.

        Raises:
            UnexpectedContentError: Not an object, or a size that is not a number.
        """
        if not isinstance(raw, dict):
            raise UnexpectedContentError(f"expected attachment info, got {raw!r:.200}")
        return cls(
            name=name,
            content_type=json_int(raw, "ContentType"),
            uncompressed_size=json_int(raw, "UncompressedSize"),
            compressed_size=json_int(raw, "CompressedSize"),
            uncompressed_md5=str(raw.get("UncompressedMD5", "")),
            compressed_md5=str(raw.get("CompressedMD5", "")),
            etag=etag,
            raw=raw,
        )
