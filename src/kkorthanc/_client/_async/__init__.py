"""The asynchronous client: :class:`AsyncOrthanc`, its resources, collections and operations.

Everything here is turned into :mod:`kkorthanc._client._sync` by ``scripts/unasync.py``.
"""
