"""The seam: what the code below the concrete clients may ask of a client.

Resources, collections, jobs, the modalities and peers, the transfer engines and the fast lane
talk to a client only through :class:`AsyncSeam` (asynchronous code) or :class:`Seam` (its
synchronous twin), as httpx's lower layers see a transport protocol and never the client.
:class:`~kkorthanc.AsyncOrthanc` and :class:`~kkorthanc.Orthanc` satisfy them structurally;
nothing here names a client class, so nothing below the clients imports one.

The members, the same in both:

- the request verbs ``get``, ``post``, ``put``, ``delete`` (decoded answers), ``get_bytes``
  (raw bytes), ``stream`` (a response before its body is read) and ``request`` (a read
  ``httpx.Response``);
- what the server is: ``system()``, ``statistics()``, ``capabilities()`` (asked once, then
  remembered);
- what the client was told: ``url`` (its base URL) and ``use_kk_plugin``;
- ``lane_settings()``: what the transfer fast lane needs to send requests exactly as the client
  would (a :class:`LaneSettings`), or None where the client's settings need httpx.

:class:`AsyncSeam` is written by hand in :mod:`._async`; :mod:`._sync` is generated from it by
``scripts/unasync.py``, like the synchronous client, and ``AsyncSeam`` in the client code becomes
``Seam``. :class:`LaneSettings` is in :mod:`.settings`.
"""

from __future__ import annotations

from ._async import AsyncSeam
from ._sync import Seam
from .settings import LaneSettings

__all__ = ["AsyncSeam", "LaneSettings", "Seam"]
