"""A forked child (a fork server's action, a user's `os.fork`) gets loops of its own: its parent's
loop threads do not exist in it, so a call that reused the parent's loop would wait forever."""

from __future__ import annotations

import asyncio
import os

from flyte_jupyter._internal.client.calls import background_loop, call


def test_a_forked_child_starts_its_own_backend_loop():
    parent_loop = background_loop()
    assert call(lambda: asyncio.sleep(0, "parent"), 5) == "parent"
    pid = os.fork()
    if pid == 0:  # the child: report by exit status only, never return into pytest
        code = 1
        try:
            ok = call(lambda: asyncio.sleep(0, "child"), 5) == "child" and background_loop() is not parent_loop
            code = 0 if ok else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0  # before: the child timed out (1) on its parent's loop
    assert background_loop() is parent_loop  # the parent keeps its own
