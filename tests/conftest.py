"""Configuration shared by the whole KkOrthanc test suite (add to it; keep it small)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ("pytester",)

_INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration with ``integration`` (``-m "not integration"``)."""
    for item in items:
        if _INTEGRATION_DIR in item.path.parents:
            item.add_marker(pytest.mark.integration)
