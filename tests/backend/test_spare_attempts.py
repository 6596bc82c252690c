"""A fork server keeps one child forked and detached ahead of demand: an attempt's request is
handed to it rather than waiting for a fork. The attempt is still a process of its own, reported
by its own pid; a spare that dies idle is nobody's exit; spares end with their fork server."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
from faults.harness import processes_of, wait_for
from flows import spares

import flyte_jupyter as flyte
from flyte_jupyter.backend.plugins.local.zygote import _Spares


def _spares_of(backend, template: int) -> list[int]:  # type: ignore[no-untyped-def]
    """The template's idle spares: its children that are session leaders writing the fork
    server's log (an attempt's stdout is its own log file)."""
    log = str(backend.data_dir / "zygote.log")
    return [p.pid for p in processes_of(backend.data_dir) if p.ppid == template and p.leader and p.stdout == log]


def _template_of(backend, remote) -> int:  # type: ignore[no-untyped-def]
    """The bundle's template, once actions are forked from it (the first ones are forked by the
    fork server while the template loads the bundle)."""
    for _ in range(50):
        _, forker, _ = remote.run(spares.process_age).outputs()
        if psutil.Process(forker).ppid() != backend.proc.pid:
            return int(forker)
        time.sleep(0.1)
    raise AssertionError("no action was forked from the bundle's template")


def test_an_attempt_runs_in_a_process_forked_before_it_was_asked_for(backend_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """...and the backend knows it by that process's pid (the handle it records, kills and reaps)."""
    backend = backend_factory().start()
    backend.use()
    marker = tmp_path / "pid"
    try:
        remote = flyte.with_runcontext(mode="remote")
        remote.run(spares.process_age).outputs()  # the bundle's template, and its spare
        time.sleep(0.6)
        run = remote.run(spares.process_age, marker=str(marker), seconds=2.0)
        assert wait_for(marker.exists, 30)
        running = int(marker.read_text())
        assert wait_for(lambda: running in {int(h.split(":")[0]) for h in backend.recorded_handles()}, 10), \
            f"the backend recorded {backend.recorded_handles()}, not the process that runs ({running})"
        pid, template, age = run.outputs()
    finally:
        flyte.init()
    assert pid == running
    assert age > 0.4, f"the attempt's process was {age:.3f} s old: forked on demand, not ahead"
    assert "zygote" in Path(f"/proc/{template}/cmdline").read_text()


def test_an_idle_spare_that_dies_is_no_ones_exit_is_replaced_and_ends_with_its_backend(backend_factory) -> None:  # type: ignore[no-untyped-def]
    backend = backend_factory().start()
    backend.use()
    try:
        remote = flyte.with_runcontext(mode="remote")
        template = _template_of(backend, remote)
        assert wait_for(lambda: len(_spares_of(backend, template)) == 1, 10), _spares_of(backend, template)
        (idle,) = _spares_of(backend, template)
        os.kill(idle, signal.SIGKILL)
        assert wait_for(lambda: _spares_of(backend, template) not in ([], [idle]), 10), "the spare was not replaced"
        run = remote.run(spares.process_age)
        pid, forker, _ = run.outputs()
        assert run.phase is flyte.Phase.SUCCEEDED and forker == template and pid != idle
        assert run.actions["a0"].attempts == 1
    finally:
        flyte.init()
    assert "Traceback" not in (backend.data_dir / "zygote.log").read_text(errors="replace")
    backend.stop()
    assert wait_for(lambda: not processes_of(backend.data_dir), 5), [p.describe() for p in processes_of(backend.data_dir)]


def _faults(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[7])  # minflt


def test_spares_after_the_first_attempts_have_taken_their_page_faults_ahead(backend_factory) -> None:  # type: ignore[no-untyped-def]
    """The first attempts tell their template which pages they wrote; the spares forked after
    that have already made those pages their own before any attempt is given to them."""
    backend = backend_factory().start()
    backend.use()
    try:
        remote = flyte.with_runcontext(mode="remote")
        template = _template_of(backend, remote)
        assert wait_for(lambda: len(_spares_of(backend, template)) == 1, 10)
        teacher = _faults(_spares_of(backend, template)[0])
        for _ in range(_Spares.TEACHERS + 2):
            remote.run(spares.process_age).outputs()
        assert wait_for(lambda: len(_spares_of(backend, template)) == 1, 10)
        taught = _faults(_spares_of(backend, template)[0])
    finally:
        flyte.init()
    assert taught > teacher + 200, f"an idle spare took {taught} page faults, a first one {teacher}: nothing taken ahead"
