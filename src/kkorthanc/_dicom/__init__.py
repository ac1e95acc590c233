"""DICOM bytes without HTTP: header reading, identifiers computed offline, the de-identification
profile, pictures.

May import: :mod:`kkorthanc._core`, :mod:`kkorthanc._util`, :mod:`kkorthanc.errors`; pydicom,
numpy and Pillow only when used (:mod:`kkorthanc._util.lazy`).
"""
