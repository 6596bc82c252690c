"""Interrupting the kernel while a `%%flyte run` cell runs aborts the run and says so."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from kernel_helpers import make_kernel_env

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _run(kc: Any, code: str, timeout: float = 120) -> list[dict[str, Any]]:
    """Execute and collect this request's iopub messages until idle."""
    msg_id = kc.execute(code)
    msgs = []
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(1.0, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        msgs.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return msgs


def test_interrupt_aborts_the_run(tmp_path: Path) -> None:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", env=make_kernel_env(tmp_path), cwd=str(tmp_path))
    try:
        _run(kc, "%load_ext flyte_jupyter\nimport flyte_jupyter as flyte, time\nenv = flyte.TaskEnvironment('intr')\n"
                 "@env.task\ndef nap(s: float) -> float:\n    time.sleep(s)\n    return s")
        msg_id = kc.execute("%%flyte run --local --name intr-run\nawait nap.aio(60)")
        # wait until the run is under way (its widget is displayed), then interrupt the kernel
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            msg = kc.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "display_data":
                break
        time.sleep(1.0)
        km.interrupt_kernel()
        errors = []
        while True:
            msg = kc.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "error":
                errors.append(msg["content"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        assert len(errors) == 1
        assert errors[0]["ename"] == "ActionAbortedError"
        assert "run intr-run was aborted: the cell was interrupted" in _ANSI.sub("", "\n".join(errors[0]["traceback"]))
        out = _run(kc, "print(_flyte_run.phase, [a.phase.value for a in _flyte_run.actions.values()])")
        text = "".join(m["content"].get("text", "") for m in out if m["msg_type"] == "stream")
        assert text.strip() == "ABORTED ['ABORTED', 'ABORTED']"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
