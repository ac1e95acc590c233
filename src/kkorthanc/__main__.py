"""``python -m kkorthanc``: the same as the ``kkorthanc`` command.

Example:
    $ python -m kkorthanc --output json system
"""

from __future__ import annotations

from kkorthanc.cli import main

raise SystemExit(main())
