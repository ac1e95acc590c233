"""Typed records of the server-side operations: jobs, changes, modalities, peers. No I/O."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ...errors import (
    DicomNetworkError,
    ForceRequiredError,
    NotFoundError,
    OrthancHTTPError,
    OrthancInputError,
    UnexpectedContentError,
    rebuild_error,
)

__all__ = [
    "Change",
    "JobInfo",
    "JobState",
    "ModalityConfig",
    "PeerConfig",
    "as_force_error",
    "as_network_error",
    "check_name",
    "ended_by_remote",
    "parse_orthanc_time",
    "unknown_name",
    "with_calling_aet_hint",
]


class JobState(str, enum.Enum):
    """The state of a server-side job; the value is Orthanc's word.

    Example:
        >>> JobState("Success").finished
        True
    """

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESS = "Success"
    FAILURE = "Failure"
    PAUSED = "Paused"
    RETRY = "Retry"

    @property
    def finished(self) -> bool:
        """Whether the job will not change state any more by itself (Success or Failure)."""
        return self in (JobState.SUCCESS, JobState.FAILURE)


def parse_orthanc_time(text: object) -> datetime | None:
    """Read Orthanc's ``20240131T120000.123456`` or ``20240131T120000`` timestamps.

    Example:
        >>> parse_orthanc_time("20240131T120000")
        datetime.datetime(2024, 1, 31, 12, 0)
    """
    if not isinstance(text, str) or not text:
        return None
    for pattern in ("%Y%m%dT%H%M%S.%f", "%Y%m%dT%H%M%S"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise UnexpectedContentError(f"cannot read the Orthanc timestamp {text!r}")


def _object(raw: object, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise UnexpectedContentError(f"expected {what} as a JSON object, got {raw!r}")
    return raw


@dataclass(frozen=True)
class JobInfo:
    """What ``GET /jobs/{id}`` says about a job at one moment.

    Attributes:
        id: The job's ID.
        type: Its type, e.g. ``"ResourceModification"``, ``"Archive"``, ``"DicomMoveScu"``.
        state: Its :class:`JobState`.
        progress: Percent done, 0 to 100.
        error_code: Orthanc's error code (0 while all is well).
        error_description: Orthanc's description of the code (``"Success"`` while all is well).
        error_details: Details of a failure, or ``""``.
        content: What the job did or produced (the new resource's ``ID`` for a modification).
        creation_time: When it was submitted.
        completion_time: When it finished, or None.
        priority: Its priority.
        raw: The whole JSON answer.

    Example:
        >>> info = JobInfo.from_json({"ID": "j", "Type": "Archive", "State": "Running",
        ...     "Progress": 40, "ErrorCode": 0, "CreationTime": "20240131T120000"})
        >>> info.state, info.progress
        (<JobState.RUNNING: 'Running'>, 40)
    """

    id: str
    type: str
    state: JobState
    progress: int
    error_code: int
    error_description: str
    error_details: str
    content: Mapping[str, Any]
    creation_time: datetime | None
    completion_time: datetime | None
    priority: int
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, raw: object) -> JobInfo:
        """Build from the JSON of ``GET /jobs/{id}``.

        Raises:
            UnexpectedContentError: Not a job description.
        """
        job = _object(raw, "a job")
        try:
            state = JobState(job.get("State"))
        except ValueError as error:
            raise UnexpectedContentError(f"unknown job state in {job!r}") from error
        content = job.get("Content")
        return cls(
            id=str(job.get("ID", "")),
            type=str(job.get("Type", "")),
            state=state,
            progress=int(job.get("Progress", 0)),
            error_code=int(job.get("ErrorCode", 0)),
            error_description=str(job.get("ErrorDescription", "")),
            error_details=str(job.get("ErrorDetails", "") or ""),
            content=dict(content) if isinstance(content, Mapping) else {},
            creation_time=parse_orthanc_time(job.get("CreationTime")),
            completion_time=parse_orthanc_time(job.get("CompletionTime")),
            priority=int(job.get("Priority", 0)),
            raw=job,
        )


@dataclass(frozen=True)
class Change:
    """One entry of the changes feed (``GET /changes``).

    Attributes:
        seq: Its sequence number, increasing.
        change_type: Orthanc's word, e.g. ``"NewInstance"``, ``"StableStudy"``, ``"Deleted"``.
        resource_type: ``"Patient"``, ``"Study"``, ``"Series"`` or ``"Instance"``.
        id: The Orthanc ID of the resource.
        path: Its REST path, e.g. ``"/studies/8a8c..."``.
        date: When the change happened.
        raw: The JSON entry.

    Example:
        >>> change = Change.from_json({"Seq": 7, "ChangeType": "StableStudy",
        ...     "ResourceType": "Study", "ID": "s", "Path": "/studies/s",
        ...     "Date": "20240131T120000"})
        >>> change.seq, change.change_type
        (7, 'StableStudy')
    """

    seq: int
    change_type: str
    resource_type: str
    id: str
    path: str
    date: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, raw: object) -> Change:
        """Build from one element of ``Changes``.

        Raises:
            UnexpectedContentError: Not a change entry.
        """
        entry = _object(raw, "a change")
        seq = entry.get("Seq")
        if not isinstance(seq, int):
            raise UnexpectedContentError(f"a change without a sequence number: {entry!r}")
        return cls(
            seq=seq,
            change_type=str(entry.get("ChangeType", "")),
            resource_type=str(entry.get("ResourceType", "")),
            id=str(entry.get("ID", "")),
            path=str(entry.get("Path", "")),
            date=parse_orthanc_time(entry.get("Date")),
            raw=entry,
        )


@dataclass(frozen=True)
class ModalityConfig:
    """A DICOM modality as the server knows it (``GET /modalities?expand``).

    Attributes:
        name: The symbolic name used in routes.
        aet: The remote AE title.
        host: Its host name or address.
        port: Its DICOM port.
        manufacturer: Orthanc's manufacturer setting (``"Generic"`` by default).
        raw: The whole configuration.

    Example:
        >>> ModalityConfig.from_json("pacs", {"AET": "PACS", "Host": "10.0.0.1", "Port": 104}).port
        104
    """

    name: str
    aet: str
    host: str
    port: int
    manufacturer: str
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, name: str, raw: object) -> ModalityConfig:
        """Build from a modality's configuration (an object, or the old ``[AET, host, port]``).

        Raises:
            UnexpectedContentError: Neither form.
        """
        if isinstance(raw, list) and len(raw) >= 3:
            raw = {"AET": raw[0], "Host": raw[1], "Port": raw[2]}
        config = _object(raw, f"the configuration of modality {name!r}")
        return cls(
            name=name,
            aet=str(config.get("AET", "")),
            host=str(config.get("Host", "")),
            port=int(config.get("Port", 0)),
            manufacturer=str(config.get("Manufacturer", "Generic")),
            raw=config,
        )


@dataclass(frozen=True)
class PeerConfig:
    """An Orthanc peer as the server knows it (``GET /peers?expand``).

    Attributes:
        name: The symbolic name used in routes.
        url: The peer's base URL.
        username: The user name the server uses with it, or None.
        raw: The whole configuration (Orthanc never shows the password).

    Example:
        >>> PeerConfig.from_json("site2", {"Url": "http://10.0.0.2:8042/"}).url
        'http://10.0.0.2:8042/'
    """

    name: str
    url: str
    username: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, name: str, raw: object) -> PeerConfig:
        """Build from a peer's configuration (an object, or the old ``[url, user, password]``).

        Raises:
            UnexpectedContentError: Neither form.
        """
        if isinstance(raw, list) and raw:
            raw = {"Url": raw[0], "Username": raw[1] if len(raw) > 1 else None}
        config = _object(raw, f"the configuration of peer {name!r}")
        username = config.get("Username")
        return cls(name, str(config.get("Url", "")), username or None, config)


def check_name(name: object, what: str) -> str:
    """Check a modality or peer name: letters, digits, ``-`` and ``_`` only (Orthanc's rule).

    Raises:
        OrthancInputError: Empty, not a string, or with other characters.
    """
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
        raise OrthancInputError(
            f"{what} name {name!r} is invalid: use letters, digits, '-' and '_' only"
        )
    return name


def as_network_error(error: OrthancHTTPError, what: str) -> OrthancHTTPError:
    """The :class:`DicomNetworkError` for a failed DICOM operation (500, 422, 504 answers).

    Other errors (an unknown modality's 404, a bad request) are returned unchanged.
    """
    if error.status_code not in (422, 500, 502, 504) and error.orthanc_status != 9:
        return error
    return rebuild_error(error, DicomNetworkError, hint=f"{what} failed")


_ENDED_BY_REMOTE = ("Peer aborted Association", "Association Rejected", "Association rejected")


def ended_by_remote(error: OrthancHTTPError) -> bool:
    """Whether the remote accepted the connection, then aborted or rejected the association:
    most often because it does not know our AE title (Orthanc says only "Peer aborted
    Association")."""
    text = f"{error.details or ''} {error.message}"
    return isinstance(error, DicomNetworkError) and any(k in text for k in _ENDED_BY_REMOTE)


def with_calling_aet_hint(error: OrthancHTTPError, what: str, aet: str) -> OrthancHTTPError:
    """``error`` with a hint naming the AE title the remote must know (``aet``: the server's
    ``DicomAet``, empty when it could not be asked).

    Example:
        >>> hinted = with_calling_aet_hint(error, "the C-FIND", "ORTHANC")  # doctest: +SKIP
    """
    ours = f"{aet!r} (this Orthanc's DicomAet)" if aet else "this Orthanc's AE title (DicomAet)"
    operation = re.search(r"C-[A-Z]+", what)
    allow = f", and allow {operation.group()} from it" if operation else ""
    hint = (
        f"{what} failed: the remote ended the association, most often because it does not know "
        f"the calling AE title: the remote must list {ours} with this server's address and "
        f"DICOM port among its known modalities{allow}"
    )
    return rebuild_error(error, DicomNetworkError, hint=hint)


def as_force_error(error: OrthancHTTPError) -> OrthancHTTPError:
    """The :class:`ForceRequiredError` for Orthanc's "requires the Force option" answers."""
    if error.status_code != 400 or '"Force"' not in (error.details or ""):
        return error
    hint = (
        "Changing PatientID or a UID breaks the link with the original data: pass force=True "
        "to do it anyway"
    )
    return rebuild_error(error, ForceRequiredError, hint=hint)


def unknown_name(base_url: str, collection: str, name: str) -> NotFoundError:
    """The 404 error for a modality or peer name the server does not know."""
    what = "modality" if collection == "modalities" else "peer"
    return NotFoundError(404, "GET", f"{base_url}{collection}/{name}", f"no {what} named {name!r}")
