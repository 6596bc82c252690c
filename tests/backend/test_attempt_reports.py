"""A forked attempt ends when its result is in place and reported, not when its exit is reaped;
an attempt's outputs.pb is its commit, so a SIGKILL after it is not retried and one before it is."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from flows import reports

import flyte_jupyter as flyte


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[-1].split()[0]


def test_an_attempt_ends_on_its_report_while_its_forking_process_is_frozen(flyte_backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    remote = flyte.with_runcontext(mode="remote")
    remote.run(reports.says_who, marker_dir=str(tmp_path), seconds=0.0).outputs()  # the bundle's template
    (tmp_path / "who").unlink()
    run = remote.run(reports.says_who, marker_dir=str(tmp_path), seconds=1.0)
    deadline = time.monotonic() + 30
    while not (tmp_path / "who").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    pid, forker = (int(v) for v in (tmp_path / "who").read_text().split())
    os.kill(forker, signal.SIGSTOP)  # it can reap no exit now, nor tell the backend of one
    try:
        run.wait(timeout=20)
        assert run.phase is flyte.Phase.SUCCEEDED and run.outputs() == 7
        assert _state(forker) == "T", "the forking process was not frozen the whole time"
    finally:
        os.kill(forker, signal.SIGCONT)
    deadline = time.monotonic() + 10  # still reaped once it runs again
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}"), "the attempt's process was never reaped"


def test_a_sigkill_after_the_outputs_are_in_place_is_a_success_not_a_retry(flyte_backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(reports.commits_then_dies, marker_dir=str(tmp_path))
    assert run.outputs() == 5
    assert sorted(p.name for p in tmp_path.glob("attempt-*")) == ["attempt-1"]
    assert run.actions["a0"].attempts == 1


def test_a_sigkill_before_the_result_is_retried(flyte_backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(reports.dies_before_its_result, marker_dir=str(tmp_path))
    assert run.outputs() == 2
    assert sorted(p.name for p in tmp_path.glob("attempt-*")) == ["attempt-1", "attempt-2"]


def test_a_bundle_template_ends_cleanly_with_its_backend(backend_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The template a bundle's actions are forked from goes when the backend stops, by `os._exit`
    with its own exit code: no traceback in the fork server's log (a template that raised there
    unwound through the fork server's code it was forked from, and flushed its inherited buffers)."""
    backend = backend_factory().start()
    backend.use()
    try:
        flyte.with_runcontext(mode="remote").run(reports.says_who, marker_dir=str(tmp_path), seconds=0.0).outputs()
        template = int((tmp_path / "who").read_text().split()[1])
        assert "zygote" in Path(f"/proc/{template}/cmdline").read_text()
    finally:
        flyte.init()
    backend.stop()
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{template}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{template}"), "the template outlived its backend"
    log = (backend.data_dir / "zygote.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


def test_a_fork_server_whose_backend_left_its_messages_unread_ends_quietly() -> None:
    """A backend that stops with the fork server's last messages still unread closes its end with a
    reset, not an end of file: the fork server must take that as "the backend is gone" too, and
    exit cleanly rather than print a traceback at every backend stop."""
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flyte_jupyter.backend.plugins.local.zygote", str(theirs.fileno()), "-1",
         str(os.getpid()), "-1"],
        pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        theirs.close()
        assert b'"ready": true' in ours.recv(4096, socket.MSG_PEEK)  # seen, left unread
        ours.close()
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err.decode(errors="replace")
        assert b"Traceback" not in err, err.decode(errors="replace")
    finally:
        proc.kill()
        proc.wait()


def test_a_forked_action_finds_what_its_end_needs_already_imported(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    """What every action's end imports (scratch-dir cleanup, the usage report, storage) is imported
    once by the template it is forked from, not again in each action: ~1-2 ms of CPU per forked
    action where bytecode is not cached."""
    assert flyte.with_runcontext(mode="remote").run(reports.not_yet_imported).outputs() == []
