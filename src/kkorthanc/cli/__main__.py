"""``python -m kkorthanc.cli``: the same as the ``kkorthanc`` command."""

from __future__ import annotations

from . import main

raise SystemExit(main())
