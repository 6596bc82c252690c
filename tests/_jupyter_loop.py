"""pytest-jupyter's `jp_asyncio_loop`, made the main thread's current loop.

jupyter_core caches the loop it made the first time (`ensure_event_loop`, which nbclient and
jupyter_client call in earlier tests) and returns it again while it is open; an `asyncio.run()`
since then leaves the thread without a current loop, and tornado's `fetch` then raised "There is no
current event loop" in the first server test of the session. Import it after pytest-jupyter's
fixtures so that it replaces theirs.
"""

from __future__ import annotations

import asyncio
from typing import Iterator

import pytest
from jupyter_core.utils import ensure_event_loop


@pytest.fixture
def jp_asyncio_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = ensure_event_loop(prefer_selector_loop=True)
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
