"""The requests behind ``uids()`` of patients, studies and series: the kk plugin's one, or REST.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

from typing import Any

from ..._core import uids as _uids
from ..._core.levels import Level
from ..._core.uids import PatientUids, SeriesUids, StudyUids
from ._kk import kk_uids, plugin_accepts, use_plugin
from ._resource import AsyncResource

__all__ = ["patient_uids", "series_uids", "study_uids"]


async def _expanded(resource: AsyncResource, *routes: str) -> dict[str, Any]:
    levels = {"studies": "Study", "series": "Series", "instances": "Instance"}
    return {levels[route]: await resource.get(route, params={"expand": True}) for route in routes}


async def series_uids(series: AsyncResource, series_instance_uid: str) -> SeriesUids:
    """The identifiers of a series and its instances, in one request.

    Raises:
        NotFoundError: The series no longer exists.
    """
    top = {"ID": series.id, "SeriesInstanceUID": series_instance_uid}
    below = await _expanded(series, "instances")
    return _uids.series_uids_from_json(_uids.nest_rest_answers("Series", top, below))


async def study_uids(study: AsyncResource, study_instance_uid: str, patient_id: str) -> StudyUids:
    """The identifiers of a study and below: 1 request with the kk plugin, else 2.

    Raises:
        NotFoundError: The study no longer exists.
    """
    uid = study_instance_uid
    if plugin_accepts(uid) and await use_plugin(study.client):
        answer = await kk_uids(study.client, Level.STUDY, uid, patient_id=patient_id)
        uids = _uids.study_uids_from_json(answer)
    else:
        top = {"ID": study.id, "PatientID": patient_id, "StudyInstanceUID": uid}
        below = await _expanded(study, "series", "instances")
        uids = _uids.study_uids_from_json(_uids.nest_rest_answers("Study", top, below))
    _uids.check_uids_of(uids, study.id)
    return uids


async def patient_uids(patient: AsyncResource, patient_id: str) -> PatientUids:
    """The identifiers of a patient and below: 1 request with the kk plugin, else 3.

    Raises:
        NotFoundError: The patient no longer exists.
    """
    if plugin_accepts(patient_id) and await use_plugin(patient.client):
        answer = await kk_uids(patient.client, Level.PATIENT, patient_id)
        uids = _uids.patient_uids_from_json(answer)
    else:
        top = {"ID": patient.id, "PatientID": patient_id}
        below = await _expanded(patient, "studies", "series", "instances")
        uids = _uids.patient_uids_from_json(_uids.nest_rest_answers("Patient", top, below))
    _uids.check_uids_of(uids, patient.id)
    return uids
