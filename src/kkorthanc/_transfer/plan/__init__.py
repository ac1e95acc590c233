"""Transfer decisions, shared by the thread and asyncio engines: what to send or fetch, where it
goes, what an answer means, what goes into the report. Local I/O only (files, archives), no network.

May import: :mod:`kkorthanc._dicom`, :mod:`kkorthanc._core`, :mod:`kkorthanc._util`,
:mod:`kkorthanc.errors`.
"""
