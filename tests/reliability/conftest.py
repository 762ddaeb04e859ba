"""No podship process outlives its test, even one that failed half-way."""

from __future__ import annotations

import pytest

from tests.reliability import common


@pytest.fixture(autouse=True)
async def _reap_podship():
    yield
    for podship in common.STARTED:
        if podship.process is not None:
            await common.reap(podship.process)
    common.STARTED.clear()
