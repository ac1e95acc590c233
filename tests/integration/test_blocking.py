"""The ``client`` fixture's async proxy (``_blocking.py``) stays out of a failing test's report.

No server needed: a fake async object stands for the async client.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_FAKE_CLIENT = """
import asyncio

import pytest
from _blocking import Blocking


class AsyncThing:
    async def supports(self, name):
        return False

    async def fail(self):
        await asyncio.sleep(0)
        raise LookupError("no such thing")


@pytest.fixture
def thing():
    loop = asyncio.new_event_loop()
    yield Blocking(AsyncThing(), loop)
    loop.close()


def test_assertion(thing):
    assert thing.supports("labels")


def test_error(thing):
    thing.fail()
"""


def test_a_failing_async_test_reads_like_a_sync_one(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert(Path(__file__).parent)
    pytester.makepyfile(_FAKE_CLIENT)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio", "-p", "no:kkorthanc")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["*where False = supports('labels')*", "*LookupError: no such thing"]
    )
    report = result.stdout.str()
    for hidden in ("<lambda>", "_blocking.py", "base_events.py", "run_until_complete"):
        assert hidden not in report
    assert "async def fail(self):" in report  # the async code's own frame is kept
