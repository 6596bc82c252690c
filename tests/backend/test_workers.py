"""Warm reusable workers (environments with a ReusePolicy) and the zero-configuration backend."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

from flows import warm

import flyte_jupyter as flyte


def test_a_reusable_environment_runs_actions_in_a_warm_worker(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(warm.one_by_one, n=25)
    pids = run.outputs()
    assert len(pids) == 25
    pid, count = Counter(pids).most_common(1)[0]
    assert count >= 5, f"no worker was reused: {pids}"
    child = next(a for a in run.actions.values() if a.task == "warm.whoami" and a.phase.terminal)
    assert any("in process" in line for line in run.logs(child.name)), "each action keeps its own log"


def test_a_timeout_in_a_worker_kills_it_and_the_pool_recovers(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    flyte.with_runcontext(mode="remote").run(warm.one_by_one, n=8).outputs()  # warm the pool up
    slow = flyte.with_runcontext(mode="remote").run(warm.warm_sleeper, seconds=60)
    slow.wait(timeout=60)
    assert slow.phase is flyte.Phase.TIMED_OUT
    again = flyte.with_runcontext(mode="remote").run(warm.one_by_one, n=3)
    assert len(again.outputs()) == 3


def test_remote_mode_with_nothing_configured_starts_the_embedded_backend(tmp_path: Path) -> None:
    script = tmp_path / "zero_config.py"
    script.write_text(textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        import flyte_jupyter as flyte
        from flows import basic

        run = flyte.with_runcontext(mode="remote").run(basic.fanout, n=3)
        print("RESULT", run.outputs(), run.mode)
    """))
    env = {**os.environ, "FLYTE_JUPYTER_DATA_DIR": str(tmp_path / "data")}
    env.pop("FLYTE_JUPYTER_CONFIG", None)
    try:
        done = subprocess.run([sys.executable, str(script), str(Path(__file__).parent)], capture_output=True,
                              text=True, timeout=180, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "RESULT 6 remote" in done.stdout
        assert (tmp_path / "data" / "backend" / "client.yaml").exists()
    finally:
        from flyte_jupyter._internal.client import embedded as _embedded

        _embedded.stop_backend(tmp_path / "data" / "backend")


def test_concurrent_starts_share_one_embedded_backend(tmp_path: Path) -> None:
    import concurrent.futures

    from flyte_jupyter._internal.client import embedded as _embedded

    data = tmp_path / "shared"
    try:
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            infos = list(pool.map(lambda _: _embedded.start_backend(data, port=0), range(3)))
        assert len({i.pid for i in infos}) == 1 and len({i.endpoint for i in infos}) == 1
    finally:
        _embedded.stop_backend(data)
