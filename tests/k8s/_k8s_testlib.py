"""Helpers shared by the Kubernetes executor tests (statuses recorder, launch specs, API shortcuts)."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path

import pytest
from kubernetes import client

from flyte_jupyter.backend.executor import LaunchSpec, PluginConfig, PluginStatus
from flyte_jupyter.backend.plugins.k8s import crd as _crd
from flyte_jupyter.backend.plugins.k8s.plugin import KubernetesPlugin

WAIT = 60.0  # upper bound of any wait in these tests



class Recorder:
    """Collects every status the plugin reports for one attempt."""

    def __init__(self) -> None:
        self.statuses: list[PluginStatus] = []
        self._event = asyncio.Event()

    def __call__(self, status: PluginStatus) -> None:
        self.statuses.append(status)
        self._event.set()

    @property
    def phases(self) -> list[str]:
        return [s.outcome.kind.value if s.outcome else s.phase.value for s in self.statuses]

    @property
    def outcome(self):
        return next((s.outcome for s in self.statuses if s.outcome), None)

    async def wait_for(self, pred, what: str):
        deadline = time.monotonic() + WAIT
        while not pred(self):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; statuses so far: {self.phases}")
            self._event.clear()
            try:
                await asyncio.wait_for(self._event.wait(), timeout=min(left, 1.0))
            except asyncio.TimeoutError:
                pass

    async def done(self):
        await self.wait_for(lambda r: r.outcome is not None, "the attempt to end")
        return self.outcome

    async def running(self):
        await self.wait_for(lambda r: "RUNNING" in r.phases or r.outcome, "RUNNING")


@pytest.fixture(scope="session")
def stub_python(tmp_path_factory) -> str:
    """An "interpreter" that runs `-m flyte_jupyter.entrypoint CODE` as `python -c CODE`."""
    path = tmp_path_factory.mktemp("stub") / "python"
    path.write_text(f"#!{sys.executable}\nimport sys\nsys.argv = sys.argv[3:]\nexec(compile(sys.argv[0], '<action>', 'exec'))\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def project() -> str:
    return f"p{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_plugin(k8s_cluster, stub_python, tmp_path, project):
    plugins: list[KubernetesPlugin] = []
    instance = f"test-{uuid.uuid4().hex[:8]}"

    async def make(kubeconfig: str | None = None, **settings) -> KubernetesPlugin:
        s = {"kubeconfig": kubeconfig or k8s_cluster.kubeconfig, "python": stub_python, "instance": instance,
             "default_image": "flyte-jupyter-test:1", "abort_grace_seconds": 2,
             "delete_succeeded_after_seconds": -1, "delete_failed_after_seconds": -1, **settings}
        p = KubernetesPlugin(PluginConfig(data_dir=tmp_path, endpoint="127.0.0.1:9", settings=s))
        await p.start()
        plugins.append(p)
        return p

    yield make
    for p in plugins:
        if p.controller is not None:
            for w in (p.controller.pod_watch, p.controller.ta_watch):
                if w is not None:
                    w.stop()


def spec_for(project: str, tmp_path: Path, code: str, *, run: str | None = None, action: str = "a0",
             attempt: int = 1, **kw) -> LaunchSpec:
    run = run or f"r{uuid.uuid4().hex[:6]}"
    d = tmp_path / f"{run}-{action}-{attempt}"
    return LaunchSpec(run_name=run, action_name=action, attempt=attempt, project=project, domain="development",
                      task_name="tests.k8s.my_task", task_version="v1", task_type="python", args=(code,),
                      env=kw.pop("env", {}), outputs_path=str(d / "out"), workdir=str(d / "work"),
                      log_dir=str(d / "logs"), **kw)


def core(k8s_cluster) -> client.CoreV1Api:
    return client.CoreV1Api(k8s_cluster.api_client())


def taskaction(k8s_cluster, ns: str, name: str) -> dict:
    return client.CustomObjectsApi(k8s_cluster.api_client()).get_namespaced_custom_object(
        _crd.GROUP, _crd.VERSION, ns, _crd.PLURAL, name)


async def _until(pred, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not await asyncio.to_thread(pred):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


