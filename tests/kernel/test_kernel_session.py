"""The kernel's side of a session, driven like a frontend would (jupyter_client, a real kernel):
the kernel stays busy for as long as a `%%flyte run` cell runs, even while widget clicks are
handled; and a restart tells the live widgets they are disconnected before the kernel goes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from kernel_helpers import make_kernel_env

TASKS = '''
import time
import flyte_jupyter as flyte
env = flyte.TaskEnvironment("sess")

@env.task
def sleepy(s: float) -> str:
    time.sleep(s)
    return "awake"
'''


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", env=make_kernel_env(tmp_path), startup_timeout=120)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _run(kc: Any, code: str, timeout: float = 60) -> list[dict[str, Any]]:
    msg_id = kc.execute(code)
    msgs = []
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(1.0, deadline - time.monotonic()))
        msgs.append(msg)
        if (msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
                and msg["parent_header"].get("msg_id") == msg_id):
            return msgs


def test_the_kernel_stays_busy_while_a_cell_runs_and_a_widget_is_clicked(kernel: tuple[Any, Any]) -> None:
    _km, kc = kernel
    _run(kc, "%load_ext flyte_jupyter")
    _run(kc, TASKS)
    msg_id = kc.execute("%%flyte run --local --name busy-cell\nsleepy(3.0)")
    started = time.monotonic()
    states: list[tuple[float, str]] = []
    toggles: list[str] = []
    clicked = False
    while True:
        msg = kc.get_iopub_msg(timeout=60)
        kind = msg["msg_type"]
        if kind == "comm_open":
            state = msg["content"]["data"]["state"]
            if state.get("_model_name") == "ButtonModel" and state.get("icon") == "caret-right":
                toggles.append(msg["content"]["comm_id"])
        if not clicked and toggles and time.monotonic() - started > 1.0:
            # what a frontend sends when the row's expand button is clicked
            kc.session.send(kc.shell_channel.socket, "comm_msg",
                            {"comm_id": toggles[0], "data": {"method": "custom", "content": {"event": "click"}}})
            clicked = True
        if kind == "status":
            states.append((time.monotonic() - started, msg["content"]["execution_state"]))
            if msg["content"]["execution_state"] == "idle" and msg["parent_header"].get("msg_id") == msg_id:
                break
    assert clicked
    # one busy when the cell starts, one idle when it ends three seconds later, nothing between
    assert [s for _, s in states] == ["busy", "idle"], states
    assert states[-1][0] >= 2.5


def test_a_restart_tells_the_live_widget_it_is_disconnected(kernel: tuple[Any, Any]) -> None:
    km, kc = kernel
    _run(kc, "%load_ext flyte_jupyter")
    _run(kc, TASKS)
    _run(kc, "long = %flyte run --local --name left-running sleepy --s 60")
    time.sleep(1.5)
    km.restart_kernel(now=False)  # what JupyterLab's "Restart Kernel" asks: a shutdown request
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except Exception:
            continue
        if msg["msg_type"] == "comm_msg":
            seen.append(msg["content"]["data"].get("state", {}))
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "starting":
            break
    headers = [s["value"] for s in seen if 'data-run="left-running"' in str(s.get("value", ""))]
    assert headers and 'data-disconnected="1"' in headers[-1]
    assert "disconnected: the kernel shut down or restarted; this local run stopped with it" in headers[-1]
    assert any(s.get("display") == "none" for s in seen)  # the Abort button goes
