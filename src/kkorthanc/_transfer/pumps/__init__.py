"""The transfer engines: threads over the sync seam, tasks over the async one. Only the pumping
differs between them; every decision is in :mod:`kkorthanc._transfer.plan`.

May import: :mod:`.plan`, :mod:`.lane`, :mod:`kkorthanc._core` (the seam), and the layers below it.
"""
