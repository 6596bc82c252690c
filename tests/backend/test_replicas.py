"""Two backend replicas on one PostgreSQL, behind one address (a proxy standing in for the
Kubernetes service): SIGKILL the replica that owns a run in the middle of its fan-out, and the
other takes the run over within the lease time and finishes it, every child run exactly once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _replica_pair import replica_pair
from flows import slow

import flyte_jupyter as flyte

pytestmark = pytest.mark.postgres

N = 10


def _started(pid_dir: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in pid_dir.glob("child*-*"):
        name = p.name.rsplit("-", 1)[0]
        counts[name] = counts.get(name, 0) + 1
    return counts


@pytest.mark.timeout(240)
def test_killing_the_owning_replica_mid_fan_out_the_other_finishes_the_run(
        postgres_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with replica_pair(postgres_server, tmp_path, extra_args=["--max-parallelism", "4"]) as (a, b, proxy):
        flyte.init_from_config(str(a.client_yaml), endpoint=f"127.0.0.1:{proxy.port}")
        pid_dir = tmp_path / "pids"
        run = flyte.with_runcontext(mode="remote").run(slow.sleepy_parent, n=N, seconds=2.0, pid_dir=str(pid_dir))
        deadline = time.monotonic() + 60
        while len(_started(pid_dir)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_started(pid_dir)) >= 3, a.log_text()[-3000:]
        a.kill()  # the owner (the proxy sends every connection to the first replica that is up)
        killed_at = time.monotonic()
        run.wait(timeout=120)
        assert run.phase is flyte.Phase.SUCCEEDED, ([(x.name, x.phase, x.error) for x in run.actions.values()],
                                                    b.log_text()[-3000:], a.log_text()[-3000:])
        assert run.outputs() == list(range(N))
        assert _started(pid_dir) == {f"child{i}": 1 for i in range(N)}, "a child ran twice or never"
        assert "taking over 1 run(s)" in b.log_text(), b.log_text()[-3000:]
        assert time.monotonic() - killed_at < 45  # a lease (10 s), a scan (2 s), the children left


@pytest.mark.timeout(120)
def test_an_actions_call_on_the_replica_that_does_not_drive_its_run_is_forwarded(
        postgres_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Every action dials replica B (as a Service may route it) while A drives the run: B passes
    each call on to A, and the run ends as on one backend."""
    with replica_pair(postgres_server, tmp_path, actions_dial_b=True) as (a, b, _proxy):
        a.use()  # the notebook talks to A, so A drives the run
        run = flyte.with_runcontext(mode="remote").run(slow.sleepy_parent, n=4, seconds=0.2, pid_dir=str(tmp_path / "p"))
        run.wait(timeout=90)
        assert run.phase is flyte.Phase.SUCCEEDED, ([(x.name, x.phase, x.error) for x in run.actions.values()],
                                                    a.log_text()[-2000:], b.log_text()[-2000:])
        assert run.outputs() == [0, 1, 2, 3]
        assert "taking over" not in a.log_text() + b.log_text()  # nobody died: nothing changed hands
