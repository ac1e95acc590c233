"""Small utilities with no knowledge of Orthanc or DICOM: the one atomic file writer, lazy imports.

May import: :mod:`kkorthanc.errors` and the standard library.
"""
