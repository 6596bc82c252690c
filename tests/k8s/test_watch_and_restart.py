"""Watch resilience and adoption: cut connections, an API server restart (410 Gone), a backend restart."""

from __future__ import annotations

import asyncio

import pytest
from _k8s_testlib import Recorder, _until, core, spec_for, taskaction

pytestmark = pytest.mark.k8s

EXPECTED = ["INITIALIZING", "RUNNING", "exited"]


async def test_dropped_watch_resumes_without_lost_or_doubled_transitions(make_plugin, api_proxy, k8s_cluster,
                                                                         project, tmp_path):
    plugin = await make_plugin(kubeconfig=api_proxy.kubeconfig)
    specs = [spec_for(project, tmp_path, f"import time; time.sleep({0.6 + 0.5 * i}); print({i})") for i in range(4)]
    recs = [Recorder() for _ in specs]
    handles = [await plugin.launch(s, r) for s, r in zip(specs, recs)]

    async def cut_repeatedly() -> None:
        while not all(r.outcome for r in recs):
            await asyncio.sleep(0.3)
            api_proxy.drop_all()

    await asyncio.wait_for(cut_repeatedly(), timeout=60)
    for r in recs:
        assert r.phases == EXPECTED, r.phases  # every transition once, in order, none missing
        assert r.outcome.succeeded
    stats = plugin.controller.pod_watch.stats
    assert api_proxy.drops >= 2 and stats["resumes"] >= 1, stats
    assert stats["lists"] == 1, stats  # resumed from resourceVersion, never had to list again
    for h in handles:
        ns, pod = h.split("/")
        await _until(lambda: taskaction(k8s_cluster, ns, pod.rsplit("-", 1)[0]).get("status", {}).get("phase")
                     == "SUCCEEDED", "TaskAction status after the cuts")
    await plugin.close()


async def test_api_server_restart_relists_on_410(make_plugin, k8s_cluster, project, tmp_path):
    plugin = await make_plugin()
    specs = [spec_for(project, tmp_path, f"import time; time.sleep({3 + i}); print('done')") for i in range(2)]
    recs = [Recorder() for _ in specs]
    for s, r in zip(specs, recs):
        await plugin.launch(s, r)
    for r in recs:
        await r.running()
    # A fresh API server has an empty watch cache: resuming from an old resourceVersion gets 410 Gone.
    await asyncio.to_thread(k8s_cluster.restart_apiserver, asyncio.get_running_loop())
    for r in recs:
        outcome = await r.done()
        assert outcome.succeeded, outcome
        assert r.phases == EXPECTED, r.phases
    stats = plugin.controller.pod_watch.stats
    assert stats["gone"] >= 1 and stats["lists"] >= 2, stats
    await plugin.close()


async def test_backend_restart_adopts_running_pods(make_plugin, k8s_cluster, project, tmp_path):
    first = await make_plugin()
    slow = spec_for(project, tmp_path, "import time; print('working', flush=True); time.sleep(4); print('finished')")
    quick = spec_for(project, tmp_path, "import time; time.sleep(1); print('quick')")
    r_slow, r_quick = Recorder(), Recorder()
    h_slow = await first.launch(slow, r_slow)
    h_quick = await first.launch(quick, r_quick)
    await r_slow.running()
    await r_quick.running()
    await first.close()  # the backend goes away; its pods keep running

    ns, quick_pod = h_quick.split("/")
    await _until(lambda: core(k8s_cluster).read_namespaced_pod(quick_pod, ns).status.phase == "Succeeded",
                 "the quick pod to finish while no backend watches")
    second = await make_plugin()
    a_slow, a_quick = Recorder(), Recorder()
    assert await second.recover(slow, h_slow, a_slow)
    assert await second.recover(quick, h_quick, a_quick)
    assert (await a_quick.done()).succeeded  # ended during the outage: reported on adoption
    assert (await a_slow.done()).succeeded
    assert a_slow.phases[-2:] == ["RUNNING", "exited"]
    for spec in (slow, quick):  # adopted, not duplicated: still exactly one pod per action
        pods = core(k8s_cluster).list_namespaced_pod(
            ns, label_selector=f"flyte-jupyter.io/run={spec.run_name}").items
        assert len(pods) == 1
    lines = [line.text async for line in second.logs(slow, h_slow)]
    assert lines == ["working", "finished"]
    # a handle whose pod is gone is not adopted: the executor treats that attempt as lost
    gone = spec_for(project, tmp_path, "pass")
    assert not await second.recover(gone, f"{ns}/{gone.run_name}-a0-1", Recorder())
    await second.close()
