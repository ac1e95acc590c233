"""Typed answers of the server-wide routes: ``/system``, ``/statistics``, and capabilities."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import OrthancInputError, UnexpectedContentError, UnsupportedFeatureError

__all__ = ["Capabilities", "Statistics", "SystemInfo", "parse_version"]

Version = tuple[int, int, int]


def parse_version(text: str) -> Version:
    """Parse an Orthanc version string; a development build (``mainline``) counts as newest.

    Example:
        >>> parse_version("1.12.7")
        (1, 12, 7)
    """
    if text.strip().lower() == "mainline":
        return (999, 0, 0)
    numbers = [int(part) for part in re.findall(r"\d+", text)[:3]]
    if not numbers:
        raise UnexpectedContentError(f"cannot read the server version {text!r}")
    padded = [*numbers, 0, 0]
    return (padded[0], padded[1], padded[2])


def _require(raw: Mapping[str, Any], key: str, kind: type) -> Any:
    value = raw.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise UnexpectedContentError(f"expected {key!r} as {kind.__name__}, got {value!r}")
    return value


def json_int(raw: Mapping[str, Any], key: str) -> int:
    """A count or size Orthanc sends as a number or as a string of digits."""
    value = raw.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise UnexpectedContentError(f"expected {key!r} as a number, got {value!r}")


@dataclass(frozen=True)
class SystemInfo:
    """The answer of ``GET /system``.

    Attributes:
        name: The server's ``Name``.
        version: The version string, e.g. ``"1.12.7"``.
        api_version: The REST API version (16 for 1.10.1, 27 for 1.12.7).
        dicom_aet: The server's own AE title.
        dicom_port: Its DICOM port.
        http_port: Its HTTP port.
        database_backend_plugin: The index plugin (e.g. PostgreSQL), or None for SQLite.
        has_labels: Whether the server supports labels (1.12.0 and later, SQLite or a recent
            database plugin).
        check_revisions: Whether ``If-Match`` is required on metadata and attachments.
        raw: The whole JSON answer.

    Example:
        >>> info = SystemInfo.from_json({"Name": "x", "Version": "1.10.1", "ApiVersion": 16,
        ...     "DicomAet": "ORTHANC", "DicomPort": 4242, "HttpPort": 8042})
        >>> info.version_tuple
        (1, 10, 1)
    """

    name: str
    version: str
    api_version: int
    dicom_aet: str
    dicom_port: int
    http_port: int
    database_backend_plugin: str | None
    has_labels: bool
    check_revisions: bool
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> SystemInfo:
        """Build from the JSON of ``GET /system``.

        Raises:
            UnexpectedContentError: A required field is missing or of the wrong type.
        """
        return cls(
            name=str(raw.get("Name", "")),
            version=_require(raw, "Version", str),
            api_version=_require(raw, "ApiVersion", int),
            dicom_aet=str(raw.get("DicomAet", "")),
            dicom_port=int(raw.get("DicomPort", 0)),
            http_port=int(raw.get("HttpPort", 0)),
            database_backend_plugin=raw.get("DatabaseBackendPlugin") or None,
            has_labels=bool(raw.get("HasLabels", False)),
            check_revisions=bool(raw.get("CheckRevisions", False)),
            raw=raw,
        )

    @property
    def version_tuple(self) -> Version:
        """The version as ``(major, minor, patch)``."""
        return parse_version(self.version)


@dataclass(frozen=True)
class Statistics:
    """The answer of ``GET /statistics``, with sizes as integers (the server sends strings).

    Example:
        >>> stats = Statistics.from_json({"CountPatients": 1, "CountStudies": 1,
        ...     "CountSeries": 2, "CountInstances": 3, "TotalDiskSize": "1132700",
        ...     "TotalUncompressedSize": "1132700"})
        >>> stats.total_disk_size
        1132700
    """

    count_patients: int
    count_studies: int
    count_series: int
    count_instances: int
    total_disk_size: int
    total_uncompressed_size: int
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Statistics:
        """Build from the JSON of ``GET /statistics``.

        Raises:
            UnexpectedContentError: A count or size is missing or not a number.
        """
        return cls(
            count_patients=json_int(raw, "CountPatients"),
            count_studies=json_int(raw, "CountStudies"),
            count_series=json_int(raw, "CountSeries"),
            count_instances=json_int(raw, "CountInstances"),
            total_disk_size=json_int(raw, "TotalDiskSize"),
            total_uncompressed_size=json_int(raw, "TotalUncompressedSize"),
            raw=raw,
        )


# The first release with each feature. Older servers ignore or reject the matching options.
_SINCE: dict[str, Version] = {
    "numpy": (1, 10, 0),
    "attachment_info": (1, 10, 0),
    "requested_tags": (1, 11, 0),
    "labels": (1, 12, 0),
    "expand_values": (1, 12, 2),
    "find_order_by": (1, 12, 5),
    "count_resources": (1, 12, 5),
    "limit_zero_means_all": (1, 12, 5),
    "dicom_get": (1, 12, 6),
}


# Options that older servers accept and ignore, so that asking for them gives wrong answers.
_SILENTLY_IGNORED = frozenset({"requested_tags", "labels", "expand_values", "find_order_by"})


@dataclass(frozen=True)
class Capabilities:
    """What the connected server supports, so calls can refuse options it would ignore.

    Attributes:
        system: The server's :class:`SystemInfo`.
        plugins: The names listed by ``GET /plugins``.
        kk_plugin: The version of the KkOrthanc server plugin (``kkorthanc.plugin``) answering
            under ``/kk/``, or None when the server does not run it. Feature ``"kk_routes"``.

    Example:
        >>> info = SystemInfo.from_json({"Version": "1.10.1", "ApiVersion": 16})
        >>> caps = Capabilities(info, ("python",), kk_plugin="0.2.0")
        >>> caps.supports("labels"), caps.has_plugin("python"), caps.supports("kk_routes")
        (False, True, True)
    """

    system: SystemInfo
    plugins: tuple[str, ...]
    kk_plugin: str | None = None

    @property
    def version(self) -> Version:
        """The server version as ``(major, minor, patch)``."""
        return self.system.version_tuple

    @property
    def api_version(self) -> int:
        """The REST API version."""
        return self.system.api_version

    def supports(self, feature: str) -> bool:
        """Whether the server supports ``feature``: one of :attr:`features`.

        Raises:
            OrthancInputError: An unknown feature name.
        """
        if feature == "labels":
            return self.system.has_labels
        if feature == "kk_routes":
            return self.kk_plugin is not None
        if feature in ("extended_find", "extended_changes"):
            flags = self.system.raw.get("Capabilities") or {}
            key = "HasExtendedFind" if feature == "extended_find" else "HasExtendedChanges"
            return bool(flags.get(key, False))
        if feature not in _SINCE:
            raise OrthancInputError(f"unknown feature {feature!r}; known: {self.features()}")
        return self.version >= _SINCE[feature]

    @staticmethod
    def features() -> list[str]:
        """The feature names :meth:`supports` knows."""
        return sorted([*_SINCE, "extended_find", "extended_changes", "kk_routes"])

    def require(self, feature: str, purpose: str) -> None:
        """Raise unless the server supports ``feature``.

        Raises:
            UnsupportedFeatureError: Naming the purpose, the feature and the server's version.
        """
        if feature == "kk_routes" and not self.supports(feature):
            raise UnsupportedFeatureError(
                f"{purpose} needs the KkOrthanc server plugin, which this Orthanc "
                f"{self.system.version} does not run (no answer under /kk/); see docs/plugin.md"
            )
        if not self.supports(feature):
            consequence = (
                "the server would ignore it silently"
                if feature in _SILENTLY_IGNORED
                else "the route or option does not exist there"
            )
            since = ".".join(map(str, _SINCE[feature])) if feature in _SINCE else "a later release"
            raise UnsupportedFeatureError(
                f"{purpose} needs the server feature {feature!r} (Orthanc {since}), which Orthanc "
                f"{self.system.version} does not have; {consequence}"
            )

    def has_plugin(self, name: str) -> bool:
        """Whether a plugin of that name is loaded (as listed by ``GET /plugins``)."""
        return name in self.plugins
