"""The DICOM identifiers of a resource and of everything below it, as typed, nested values."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["InstanceUids", "PatientUids", "SeriesUids", "StudyUids"]


@dataclass(frozen=True)
class InstanceUids:
    """The identifiers of one instance.

    Example:
        >>> InstanceUids("f689ddd2-...", "1.2.3.4").sop_instance_uid
        '1.2.3.4'
    """

    orthanc_id: str
    sop_instance_uid: str


@dataclass(frozen=True)
class SeriesUids:
    """The identifiers of a series and of its instances.

    Example:
        >>> SeriesUids("93034833-...", "1.2.3", ()).series_instance_uid
        '1.2.3'
    """

    orthanc_id: str
    series_instance_uid: str
    instances: tuple[InstanceUids, ...] = field(default=())


@dataclass(frozen=True)
class StudyUids:
    """The identifiers of a study and of everything below it.

    Example:
        >>> StudyUids("8a8cf898-...", "P1", "1.2", ()).patient_id
        'P1'
    """

    orthanc_id: str
    patient_id: str
    study_instance_uid: str
    series: tuple[SeriesUids, ...] = field(default=())


@dataclass(frozen=True)
class PatientUids:
    """The identifiers of a patient and of everything below it.

    Example:
        >>> PatientUids("bdaf1eca-...", "P1", ()).patient_id
        'P1'
    """

    orthanc_id: str
    patient_id: str
    studies: tuple[StudyUids, ...] = field(default=())
