"""Presentation: what resources show in Jupyter, and trees as text, records and DataFrames. No I/O.

May import: :mod:`kkorthanc._core`, :mod:`kkorthanc._util`, :mod:`kkorthanc.errors`.
"""
