"""Schedules end to end (issue 19): triggers deployed with their tasks fire once per tick.

The simulated day runs a real backend (gRPC server, SQLite, the local-process executor) in this
process with a clock the test moves; the restart tests SIGKILL a backend process and start it again
with its scheduler's clock moved on (`FLYTE_JUPYTER_SCHEDULER_CLOCK_OFFSET`); one test waits for a
real `Trigger.minutely` tick (of a backend clock shifted so that its next minute comes in seconds).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import Any

from flows import scheduled

import flyte_jupyter as flyte
from flyte_jupyter._deploy import deploy_environments
from flyte_jupyter._internal.client import platform
from flyte_jupyter._internal.client.grpc_client import BackendClient
from flyte_jupyter._internal.runtime.naming import TRIGGER_LABEL
from flyte_jupyter.backend.config import load_backend_config
from flyte_jupyter.backend.scheduler import run_name_for
from flyte_jupyter.backend.server import serve

DAY = scheduled.DAY_START.timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_simulated_day_fires_each_trigger_once_per_tick_with_pause_and_resume(tmp_path: Path) -> None:
    config = load_backend_config(tmp_path / "backend", None, host="127.0.0.1", port=0)
    clock = Clock(DAY)
    project = "sched"

    async def scenario() -> None:
        got: list[Any] = []
        server = asyncio.ensure_future(serve(config, clock=clock, on_ready=got.append))
        while not got:
            await asyncio.sleep(0.05)
            assert not server.done(), server.exception()
        backend = got[0]
        await backend.scheduler.close()  # this test drives the passes itself
        client = BackendClient.from_file(config.client_yaml)
        try:
            await deploy_environments([scheduled.env], client=client, project=project, domain="development")
            fired: list[str] = []
            paused_at, resumed_at = DAY + 6 * 3600, DAY + 12 * 3600
            for step in range(24 * 12 + 1):  # every five minutes, midnight to midnight
                clock.now = DAY + step * 300
                if clock.now == resumed_at:
                    await platform.set_trigger_active(client, "hourly", True, project=project, domain="development")
                fired += await backend.scheduler.run_once()
                fired += await backend.scheduler.run_once()  # a second pass at the same time fires nothing
                if clock.now == paused_at:
                    await platform.set_trigger_active(client, "hourly", False, project=project,
                                                      domain="development")
            infos = {t.spec.name: t for t in await platform.list_triggers(client, project=project,
                                                                           domain="development")}
            # the runs of one trigger, by the names the scheduler made
            hourly_key = (project, "development", "scheduled.hourly", "hourly")
            hourly = [n for n in fired if n.startswith("hourly-")]
            expected_hours = [h for h in range(1, 25) if h <= 6 or h > 12]
            assert hourly == [run_name_for(hourly_key, DAY + h * 3600) for h in expected_hours]
            assert len([n for n in fired if n.startswith("every90-")]) == 16  # 24 h / 90 min
            assert len([n for n in fired if n.startswith("london-")]) == 1
            assert len(fired) == len(set(fired)) == 18 + 16 + 1  # hours 1-6 and 13-24, no more
            assert infos["hourly"].active and infos["hourly"].last_fire == DAY + 24 * 3600
            assert infos["hourly"].next_fire == DAY + 25 * 3600
            assert infos["every90"].schedule == "every 90 minutes"
            assert infos["london"].schedule == "cron 0 0 * * * (Europe/London)"

            # a run gets its tick's time as the input the trigger named, and its trigger's labels
            last = run_name_for(hourly_key, DAY + 24 * 3600)
            summary = None
            for _ in range(600):
                summary, _actions = await client.get_run(last, project=project, domain="development")
                if summary.phase.terminal:
                    break
                await asyncio.sleep(0.1)
            assert summary is not None and summary.phase is flyte.Phase.SUCCEEDED, summary
            assert summary.labels[TRIGGER_LABEL] == "hourly"
            flyte.init_from_config(str(config.client_yaml))
            out = await asyncio.get_running_loop().run_in_executor(
                None, lambda: flyte.remote.Run.get(last, project=project, domain="development").outputs())
            assert out == "hourly 2026-01-16T00:00:00+00:00 x=1"
        finally:
            flyte.init()
            server.cancel()
            try:
                await server
            except asyncio.CancelledError:
                pass

    asyncio.run(scenario())


def _trigger_runs(backend: Any, project: str) -> dict[str, list[Any]]:
    runs = asyncio.run(backend.client().list_runs(limit=1000, project=project, domain="development"))
    out: dict[str, list[Any]] = {}
    for run in runs:
        if TRIGGER_LABEL in run.labels:
            out.setdefault(run.labels[TRIGGER_LABEL], []).append(run)
    return out


def _wait_for(predicate: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()


def test_a_tick_missed_while_the_backend_was_down_fires_once_after_sigkill_and_restart(backend_factory) -> None:  # type: ignore[no-untyped-def]
    from flows import missed

    from flyte_jupyter.backend.server import CLOCK_OFFSET_ENV

    project = "missed"
    backend = backend_factory()
    backend.start()
    backend.use()
    try:
        asyncio.run(deploy_environments([missed.env], client=backend.client(), project=project,
                                        domain="development"))
        deployed_at = time.time()
        backend.kill()  # SIGKILL: no tick has fallen yet (the next is START + 60 min, about 30 min away)

        # Down "for 45 minutes": the tick at START + 60 min fell meanwhile.
        backend.env = {CLOCK_OFFSET_ENV: str(45 * 60)}
        backend.start()
        runs = _wait_for(lambda: _trigger_runs(backend, project).get("catchup"), 30)
        assert runs and len(runs) == 1
        backend.kill()  # SIGKILL again right after it fired, then once more with time moved on
        backend.env = {CLOCK_OFFSET_ENV: str(50 * 60)}
        backend.start()
        time.sleep(3)  # several passes of the scheduler
        fired = _trigger_runs(backend, project)
        assert len(fired["catchup"]) == 1  # the tick ran once, not again after the restart
        assert "skipper" not in fired  # catch_up=False: a tick missed while down is skipped
        tick = missed.START.timestamp() + 3600
        assert fired["catchup"][0].name == run_name_for((project, "development", "missed.catchup", "catchup"), tick)
        infos = {t.spec.name: t for t in asyncio.run(platform.list_triggers(backend.client(), project=project,
                                                                            domain="development"))}
        assert infos["catchup"].last_fire == tick and infos["skipper"].last_fire == 0
        assert infos["skipper"].next_fire == tick + 3600  # it fires from its next tick on
        out = _wait_for(lambda: (lambda r: r.outputs() if r.phase.terminal else None)(
            flyte.remote.Run.get(fired["catchup"][0].name, project=project, domain="development")), 60)
        assert out == dt.datetime.fromtimestamp(tick, dt.timezone.utc).isoformat()
        assert deployed_at < tick
    finally:
        flyte.init()


MINUTE_LEAD = 12.0  # seconds from the backend's start to its scheduler's next whole minute


def _offset_to_a_minute_in(lead: float) -> float:
    """Seconds to add to a scheduler's clock started now for its next whole minute to fall `lead`
    seconds from now (between -lead and 60 - lead)."""
    now = time.time()
    return (now // 60 + 1) * 60 - now - lead


def test_a_real_minutely_trigger_runs_on_the_embedded_backend_and_the_cli_pauses_it(backend_factory) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    from flows import minutely

    from flyte_jupyter.backend.server import CLOCK_OFFSET_ENV

    # The scheduler runs on its own real clock, shifted so that its next whole minute falls
    # MINUTE_LEAD seconds after this start (not up to a minute later): time passes for real and the
    # trigger fires by itself, only sooner. A deploy slower than the lead still sees the following
    # minute fire, just later.
    offset = _offset_to_a_minute_in(MINUTE_LEAD)
    backend = backend_factory(env={CLOCK_OFFSET_ENV: str(offset)})
    backend.start()
    backend.use()
    try:
        flyte.deploy(minutely.env, version="m1")
        project = backend.client_values()["project"]
        runs = _wait_for(lambda: _trigger_runs(backend, project).get("minutely"), 75)  # its next whole minute
        assert runs, backend.log_text()[-2000:]
        run = flyte.remote.Run.get(runs[0].name)
        out = _wait_for(lambda: run.outputs() if flyte.remote.Run.get(runs[0].name).phase.terminal else None, 60)
        fire = dt.datetime.fromisoformat(out)
        assert fire.second == 0 and fire.microsecond == 0 and abs(fire.timestamp() - (time.time() + offset)) < 180
        assert runs[0].labels[TRIGGER_LABEL] == "minutely"
        listed = list(flyte.remote.Trigger.listall())
        assert [(t.name, t.task_name, t.schedule) for t in listed] == [("minutely", "minutely.tick",
                                                                        "cron * * * * * (UTC)")]
        flyte.remote.Trigger.update("minutely", "minutely.tick", active=False)
        assert flyte.remote.Trigger.get("minutely", "minutely.tick").active is False
        flyte.remote.Trigger.update("minutely", "minutely.tick", active=True)

        def cli(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "triggers", *args], text=True,
                                  capture_output=True, timeout=60,
                                  env={**os.environ, "FLYTE_JUPYTER_CONFIG": str(backend.client_yaml)})

        listed = cli("list")
        assert listed.returncode == 0 and "minutely" in listed.stdout and "active" in listed.stdout, listed.stderr
        paused = cli("pause", "minutely")
        assert paused.returncode == 0 and "paused" in paused.stdout, paused.stderr
        assert "paused" in cli("list").stdout
        missing = cli("pause", "nope")
        assert missing.returncode != 0 and "no trigger 'nope'" in missing.stderr
        resumed = cli("resume", "minutely", "--task", "minutely.tick")
        assert resumed.returncode == 0 and "active, next fire" in resumed.stdout
        assert cli("delete", "minutely").returncode == 0
        assert "no triggers" in cli("list").stdout
    finally:
        flyte.init()


def test_a_trigger_that_cannot_run_is_refused_before_anything_is_registered(flyte_backend_process, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from flyte_jupyter._internal.deploy.package import load_path
    from flyte_jupyter.errors import DeploymentError

    cases = {
        "badcron": ('flyte.Trigger("bad", flyte.Cron("61 * * *"))', "five-field cron"),
        "badzone": ('flyte.Trigger("z", flyte.Cron("0 * * * *", timezone="Mars/Olympus"))', "IANA time zone"),
        "badtype": ('flyte.Trigger("t", flyte.FixedRate(5), inputs={"n": flyte.TriggerTime})', "type datetime"),
    }
    for module, (trigger, words) in cases.items():
        path = tmp_path / f"{module}.py"
        path.write_text(f"import flyte_jupyter as flyte\nenv = flyte.TaskEnvironment(name={module!r})\n\n"
                        f"@env.task(triggers={trigger})\ndef t(n: int = 1) -> int:\n    return n\n")
        env = load_path(path)[0].env
        with pytest.raises(DeploymentError) as info:
            asyncio.run(deploy_environments([env], client=flyte_backend_process.client(), project="refused",
                                            domain="development"))
        assert words in str(info.value), (module, str(info.value))
    assert asyncio.run(flyte_backend_process.client().list_tasks(project="refused", domain="development")) == []
    assert asyncio.run(platform.list_triggers(flyte_backend_process.client(), project="refused", domain="development")) == []
    from flyte_jupyter._internal.deploy.triggers import trigger_specs

    with pytest.raises(ValueError, match="at least 1"):
        flyte.FixedRate(0)
    with pytest.raises(ValueError, match="does not have"):  # caught in the SDK, before any request
        trigger_specs(flyte.TaskEnvironment(name="y").task(triggers=flyte.Trigger.hourly("nope"))(_plain))


def _plain(n: int = 1) -> int:
    return n
