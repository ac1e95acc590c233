"""The core: what a request and its answer mean, with no I/O.

Request building and the retry decision (:mod:`.request`, :mod:`.retry`), settings (:mod:`.config`),
URLs, the protocol (answers to values and typed errors), levels, find bodies, tags, DICOM
identifiers as values, every model (:mod:`.models`), and the seam (:mod:`.seam`) that the layers
below the clients talk to.

May import: :mod:`kkorthanc.errors`, :mod:`kkorthanc._util`, the standard library, httpx (for its
types and request objects, never to send).
"""
