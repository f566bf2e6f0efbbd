"""Fixtures of the HTTP transport tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from http_test_helpers import RawHttp


@pytest.fixture(autouse=True)
async def close_raw_clients() -> AsyncIterator[None]:
    """Close every raw client a test opened (the server side is cancelled with the test's nursery)."""
    yield
    opened, RawHttp.opened = RawHttp.opened, []
    for client in opened:
        await client.aclose()
