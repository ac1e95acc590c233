"""Typed answers and records: frozen dataclasses built from JSON, keeping ``raw``. No I/O.

May import: the other :mod:`kkorthanc._core` modules, :mod:`kkorthanc.errors`.
"""
