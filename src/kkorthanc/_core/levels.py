"""The four levels of the DICOM model as Orthanc names them."""

from __future__ import annotations

import enum

from ..errors import OrthancInputError

__all__ = ["Level"]


class Level(str, enum.Enum):
    """A level of the DICOM model: the value is Orthanc's name (``"Study"``).

    Accepts Orthanc's names, route names and lower-case words at the boundary.

    Example:
        >>> Level.parse("studies") is Level.STUDY
        True
        >>> Level.STUDY.route, Level.STUDY.parent
        ('studies', <Level.PATIENT: 'Patient'>)
    """

    PATIENT = "Patient"
    STUDY = "Study"
    SERIES = "Series"
    INSTANCE = "Instance"

    @property
    def route(self) -> str:
        """The REST route of the level: ``patients``, ``studies``, ``series``, ``instances``."""
        return _ROUTES[self]

    @property
    def parent(self) -> Level | None:
        """The level above, or None for patients."""
        index = _ORDER.index(self)
        return _ORDER[index - 1] if index else None

    @property
    def child(self) -> Level | None:
        """The level below, or None for instances."""
        index = _ORDER.index(self)
        return _ORDER[index + 1] if index + 1 < len(_ORDER) else None

    @classmethod
    def parse(cls, value: str | Level) -> Level:
        """Read a level from ``"Study"``, ``"study"``, ``"studies"`` or a :class:`Level`.

        Raises:
            OrthancInputError: Not a level.
        """
        if isinstance(value, Level):
            return value
        key = str(value).strip().lower()
        for level in cls:
            if key in (level.value.lower(), level.route):
                return level
        raise OrthancInputError(f"unknown level {value!r}: use Patient, Study, Series or Instance")


_ORDER = [Level.PATIENT, Level.STUDY, Level.SERIES, Level.INSTANCE]
_ROUTES = {
    Level.PATIENT: "patients",
    Level.STUDY: "studies",
    Level.SERIES: "series",
    Level.INSTANCE: "instances",
}
