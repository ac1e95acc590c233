"""Reading a DICOM file's header from the first chunks of a download, without its pixel data.

Orthanc has no header-only route: ``/instances/{id}/tags`` is Orthanc's JSON rendering (no VRs,
long and binary values left out), not a dataset. So :class:`HeaderReader` is fed the chunks of
``/instances/{id}/file`` as they arrive and parses the bytes received so far with pydicom's
``stop_before_pixels``; as soon as the Pixel Data element's header has arrived, the dataset is
complete and the caller closes the download, leaving the pixel data unread. No I/O here.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from ..errors import UnexpectedContentError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["HeaderReader", "parse_dicom"]

_FIRST_TRY = 8 * 1024


class _IncompleteError(Exception):
    """The parser asked for bytes that have not arrived yet."""


class _Received:
    """A read-only, seekable view of the bytes received so far that refuses to read past them.

    pydicom treats a short read at an element boundary as the end of the dataset; raising
    instead makes a partial download look incomplete rather than complete.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or self._position + size > len(self._data):
            raise _IncompleteError
        chunk = self._data[self._position : self._position + size]
        self._position += size
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._position, 2: len(self._data)}[whence]
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position


class HeaderReader:
    """Collects a download's chunks until the header can be parsed without the pixel data.

    Parsing is retried each time the received bytes have doubled, so the work stays linear in
    the header's size.

    Example:
        >>> reader = HeaderReader()
        >>> for chunk in chunks:  # doctest: +SKIP
        ...     dataset = reader.feed(chunk)
        ...     if dataset is not None:
        ...         break
        ... else:
        ...     dataset = reader.finish()
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._next_try = _FIRST_TRY

    @property
    def received(self) -> int:
        """How many bytes were fed so far."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> Dataset | None:
        """Add a chunk; return the dataset once the pixel data is reached, else None.

        Raises:
            UnexpectedContentError: The bytes are not a DICOM file.
        """
        self._buffer += chunk
        if len(self._buffer) < self._next_try:
            return None
        self._next_try = 2 * len(self._buffer)
        try:
            return _read(_Received(bytes(self._buffer)), stop_before_pixels=True)
        except _IncompleteError:
            return None

    def finish(self) -> Dataset:
        """The dataset of a download that ended before any pixel data (or just after it).

        Raises:
            UnexpectedContentError: The bytes are not a complete DICOM file.
        """
        return _read(io.BytesIO(bytes(self._buffer)), stop_before_pixels=True)


def parse_dicom(data: bytes) -> Dataset:
    """Parse a whole DICOM file.

    Raises:
        UnexpectedContentError: The bytes are not a DICOM file.

    Example:
        >>> parse_dicom(open("CT_small.dcm", "rb").read()).Modality  # doctest: +SKIP
        'CT'
    """
    return _read(io.BytesIO(data), stop_before_pixels=False)


def _read(source: Any, *, stop_before_pixels: bool) -> Dataset:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(source, stop_before_pixels=stop_before_pixels)
    except _IncompleteError:
        raise
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError) as error:
        raise UnexpectedContentError(
            f"the server's file is not a readable DICOM file: {error}",
            content_type="application/dicom",
        ) from error
