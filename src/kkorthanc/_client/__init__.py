"""The clients, the only I/O layer of the library: :mod:`._async` written by hand, :mod:`._sync`
generated from it by ``scripts/unasync.py``.

May import: :mod:`kkorthanc._transfer`, :mod:`kkorthanc._view`, :mod:`kkorthanc._dicom`,
:mod:`kkorthanc._core`, :mod:`kkorthanc._util`, :mod:`kkorthanc.errors`.
"""
