"""The Kubernetes pod plugin against a real API server and the fake kubelet.

The container's interpreter is a stub that runs its first argument as Python code, so each test
says exactly what its "action" does (print, fail, eat memory, sleep); the full entrypoint is
exercised by the end-to-end test through the backend.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import uuid

import pytest
from _k8s_testlib import Recorder, _until, core, spec_for, taskaction  # noqa: E402
from kubernetes import client
from kubernetes.client.rest import ApiException

from flyte_jupyter.backend.executor import OutcomeKind
from flyte_jupyter.backend.plugins.k8s import crd as _crd

pytestmark = pytest.mark.k8s

async def test_pod_lifecycle_spec_and_taskaction(make_plugin, k8s_cluster, project, tmp_path):
    plugin = await make_plugin(pod_template={"pod_spec": {"nodeSelector": {"kubernetes.io/hostname": "fake-node"}},
                                             "labels": {"team": "ml"}})
    spec = spec_for(project, tmp_path, "import os, time; print('hello', os.environ['GREETING']); time.sleep(1)",
                    env={"GREETING": "world"}, cpu=0.5, memory_bytes=256 << 20, timeout=600,
                    custom={"pod_template": {"primary_container_name": "primary",
                                             "pod_spec": {"containers": [{"name": "primary",
                                                          "workingDir": str(tmp_path)}]}}})
    rec = Recorder()
    handle = await plugin.launch(spec, rec)
    ns, pod_name = handle.split("/")
    assert ns == f"{project}-development"
    outcome = await rec.done()
    assert rec.phases == ["INITIALIZING", "RUNNING", "exited"]
    assert outcome.succeeded and outcome.kind is OutcomeKind.EXITED

    pod = core(k8s_cluster).read_namespaced_pod(pod_name, ns)
    labels = pod.metadata.labels
    assert labels["flyte-jupyter.io/run"] == spec.run_name and labels["flyte-jupyter.io/action"] == "a0"
    assert labels["flyte-jupyter.io/attempt"] == "1" and labels["flyte-jupyter.io/task"] == "tests.k8s.my_task"
    assert labels["team"] == "ml"  # from the backend-wide pod template
    c = pod.spec.containers[0]
    assert c.name == "primary" and c.image == "flyte-jupyter-test:1"
    assert c.command[1:3] == ["-m", "flyte_jupyter.entrypoint"]
    assert c.resources.limits == {"cpu": "500m", "memory": str(256 << 20)}
    assert c.resources.requests == {"cpu": "500m", "memory": str(256 << 20)}
    assert {e.name: e.value for e in c.env}["GREETING"] == "world"
    assert c.working_dir == str(tmp_path)  # from the task's pod template
    assert pod.spec.node_selector == {"kubernetes.io/hostname": "fake-node"}
    assert pod.spec.restart_policy == "Never" and pod.spec.active_deadline_seconds == 630

    ta = taskaction(k8s_cluster, ns, pod_name.rsplit("-", 1)[0])
    assert ta["spec"]["runName"] == spec.run_name and ta["spec"]["attempt"] == 1
    await _until(lambda: taskaction(k8s_cluster, ns, ta["metadata"]["name"]).get("status", {}).get("phase")
                 == "SUCCEEDED", "TaskAction status SUCCEEDED")
    st = taskaction(k8s_cluster, ns, ta["metadata"]["name"])["status"]
    assert st["attempt"] == 1 and st["podName"] == pod_name and st["exitCode"] == 0
    lines = [line.text async for line in plugin.logs(spec, handle)]
    assert lines == ["hello world"]
    await plugin.close()


async def test_failure_then_retry_attempt_gets_a_new_pod(make_plugin, k8s_cluster, project, tmp_path):
    plugin = await make_plugin()
    first = spec_for(project, tmp_path, "import sys; print('bad input: 42'); sys.exit(3)")
    rec1 = Recorder()
    h1 = await plugin.launch(first, rec1)
    out1 = await rec1.done()
    assert out1.kind is OutcomeKind.EXITED and out1.exit_code == 3
    assert "bad input: 42" in out1.message  # termination message falls back to the log tail
    second = dataclasses.replace(first, attempt=2, args=("print('ok now')",))
    rec2 = Recorder()
    h2 = await plugin.launch(second, rec2)
    assert h2 != h1 and h2.endswith("-2")
    assert (await rec2.done()).succeeded
    ns = h1.split("/")[0]
    ta_name = h1.split("/")[1].rsplit("-", 1)[0]
    await _until(lambda: taskaction(k8s_cluster, ns, ta_name).get("status", {}).get("phase") == "SUCCEEDED",
                 "attempt 2 recorded")
    ta = taskaction(k8s_cluster, ns, ta_name)
    assert ta["spec"]["attempt"] == 2 and ta["status"]["attempt"] == 2
    # the failed attempt's pod is kept for debugging (delete_failed_after_seconds < 0)
    assert core(k8s_cluster).read_namespaced_pod(h1.split("/")[1], ns).status.phase == "Failed"
    await plugin.close()


async def test_oom_is_reported_as_oom(make_plugin, project, tmp_path):
    plugin = await make_plugin()
    spec = spec_for(project, tmp_path, "import time\nx = bytearray(400 << 20)\nx[::4096] = b'1' * len(x[::4096])\n"
                    "time.sleep(30)", memory_bytes=100 << 20, memory_text="100Mi")
    rec = Recorder()
    await plugin.launch(spec, rec)
    outcome = await rec.done()
    assert outcome.kind is OutcomeKind.OOM, rec.phases
    assert outcome.exit_code == 137
    assert "OOMKilled" in outcome.message and "100Mi" in outcome.message
    await plugin.close()


async def test_abort_deletes_the_pod(make_plugin, k8s_cluster, project, tmp_path):
    plugin = await make_plugin()
    spec = spec_for(project, tmp_path, "import time; print('started', flush=True); time.sleep(120)")
    rec = Recorder()
    handle = await plugin.launch(spec, rec)
    await rec.running()
    await plugin.abort(handle, spec)
    outcome = await rec.done()
    assert outcome.kind is OutcomeKind.ABORTED
    ns, pod = handle.split("/")
    with pytest.raises(ApiException) as e:
        core(k8s_cluster).read_namespaced_pod(pod, ns)
    assert e.value.status == 404
    ta = taskaction(k8s_cluster, ns, pod.rsplit("-", 1)[0])
    assert ta["spec"]["abort"] is True
    await _until(lambda: taskaction(k8s_cluster, ns, pod.rsplit("-", 1)[0]).get("status", {}).get("phase")
                 == "ABORTED", "TaskAction status ABORTED")
    await plugin.abort(handle, spec)  # idempotent
    await plugin.close()


async def test_logs_follow_while_running_and_survive_cleanup(make_plugin, k8s_cluster, project, tmp_path):
    plugin = await make_plugin(delete_succeeded_after_seconds=0)
    spec = spec_for(project, tmp_path, "import time\nfor i in range(5):\n    print('line', i, flush=True)\n"
                    "    time.sleep(0.4)")
    rec = Recorder()
    handle = await plugin.launch(spec, rec)
    got = []
    async for line in plugin.logs(spec, handle, follow=True):
        got.append(line.text)
        if len(got) == 1:
            assert rec.outcome is None  # the first line arrived while the pod was still running
    assert got == [f"line {i}" for i in range(5)]
    assert (await rec.done()).succeeded
    ns, pod = handle.split("/")

    def deleted() -> bool:
        try:
            core(k8s_cluster).read_namespaced_pod(pod, ns)
            return False
        except ApiException as e:
            return e.status == 404

    await _until(deleted, "the succeeded pod to be cleaned up")
    assert [line.text async for line in plugin.logs(spec, handle)] == [f"line {i}" for i in range(5)]
    await plugin.close()


async def test_image_pull_error_is_reported(make_plugin, k8s_cluster, project, tmp_path):
    plugin = await make_plugin(image_pull_grace_seconds=1)
    spec = spec_for(project, tmp_path, "print('never')", image="registry.invalid/missing:1")
    rec = Recorder()
    await plugin.launch(spec, rec)
    outcome = await rec.done()
    assert outcome.kind is OutcomeKind.LOST
    assert "ErrImagePull" in outcome.message or "ImagePullBackOff" in outcome.message
    assert "registry.invalid/missing:1" in outcome.message


async def test_active_deadline_is_a_second_line(make_plugin, project, tmp_path):
    plugin = await make_plugin(deadline_grace_seconds=1)
    spec = spec_for(project, tmp_path, "import time; time.sleep(60)", timeout=1)
    rec = Recorder()
    await plugin.launch(spec, rec)  # the backend would abort at 1 s; here nobody does
    outcome = await rec.done()
    assert outcome.kind is OutcomeKind.EXITED and outcome.exit_code != 0
    assert "DeadlineExceeded" in outcome.message
    await plugin.close()


async def test_a_taskaction_created_by_hand_is_run(make_plugin, k8s_cluster, project, tmp_path, stub_python):
    """The controller reconciles any TaskAction with its labels, not only those it wrote itself."""
    plugin = await make_plugin()
    spec = spec_for(project, tmp_path, "print('by hand')")
    rec = Recorder()
    handle = await plugin.launch(spec, rec)
    await rec.done()
    ns, pod = handle.split("/")
    ta = taskaction(k8s_cluster, ns, pod.rsplit("-", 1)[0])
    body = {"apiVersion": _crd.API_VERSION, "kind": _crd.KIND,
            "metadata": {"name": "by-hand", "labels": ta["metadata"]["labels"]}, "spec": dict(ta["spec"])}
    client.CustomObjectsApi(k8s_cluster.api_client()).create_namespaced_custom_object(
        _crd.GROUP, _crd.VERSION, ns, _crd.PLURAL, body)
    await _until(lambda: taskaction(k8s_cluster, ns, "by-hand").get("status", {}).get("phase") == "SUCCEEDED",
                 "the hand-made TaskAction to succeed")
    assert core(k8s_cluster).read_namespaced_pod("by-hand-1", ns).status.phase == "Succeeded"
    await plugin.close()


def _text_of(api_client, obj) -> str:
    return json.dumps(obj if isinstance(obj, dict) else api_client.sanitize_for_serialization(obj))


def _token_check(token: str) -> str:
    digest = hashlib.sha256(token.encode()).hexdigest()
    return (f"import hashlib, os, sys; t = os.environ.get('FLYTE_JUPYTER_TOKEN', ''); "
            f"ok = hashlib.sha256(t.encode()).hexdigest() == {digest!r}; "
            "print('token ok' if ok else 'token wrong'); sys.exit(0 if ok else 1)")


async def test_the_token_reaches_the_pod_only_through_a_secret(make_plugin, k8s_cluster, project, tmp_path):
    plugin = await make_plugin()
    token = f"tok-{uuid.uuid4().hex}"
    code = _token_check(token)  # compares digests: the command must not carry the token either
    spec = spec_for(project, tmp_path, code, env={"FLYTE_JUPYTER_TOKEN": token, "OTHER": "plain"})
    rec = Recorder()
    handle = await plugin.launch(spec, rec)
    assert (await rec.done()).succeeded, rec.statuses  # the kubelet resolved the secretKeyRef
    assert [line.text async for line in plugin.logs(spec, handle)] == ["token ok"]
    ns, pod_name = handle.split("/")
    api = k8s_cluster.api_client()
    pod = core(k8s_cluster).read_namespaced_pod(pod_name, ns)
    ta = taskaction(k8s_cluster, ns, pod_name.rsplit("-", 1)[0])
    assert token not in _text_of(api, pod) and token not in _text_of(api, ta)
    env = {e.name: e for e in pod.spec.containers[0].env}
    assert env["OTHER"].value == "plain"
    ref = env["FLYTE_JUPYTER_TOKEN"].value_from.secret_key_ref
    assert env["FLYTE_JUPYTER_TOKEN"].value is None and ref.key == "token"
    secret = core(k8s_cluster).read_namespaced_secret(ref.name, ns)
    assert base64.b64decode(secret.data["token"]).decode() == token
    assert secret.metadata.labels["app.kubernetes.io/managed-by"] == "flyte-jupyter"
    # a new token (the backend's was replaced) updates the Secret before the next pod starts
    token2 = f"tok-{uuid.uuid4().hex}"
    spec2 = dataclasses.replace(spec, run_name=spec.run_name + "b", env={"FLYTE_JUPYTER_TOKEN": token2},
                                args=(_token_check(token2),))
    rec2 = Recorder()
    await plugin.launch(spec2, rec2)
    assert (await rec2.done()).succeeded, rec2.statuses
    secret = core(k8s_cluster).read_namespaced_secret(ref.name, ns)
    assert base64.b64decode(secret.data["token"]).decode() == token2
    await plugin.close()


async def test_a_timeout_is_recorded_as_timed_out_on_the_taskaction(make_plugin, k8s_cluster, project, tmp_path):
    plugin = await make_plugin()
    spec = spec_for(project, tmp_path, "import time; time.sleep(120)", timeout=600)
    rec = Recorder()
    handle = await plugin.launch(spec, rec)
    await rec.running()
    await plugin.abort(handle, spec, reason="timeout")  # what the executor does when the timeout passes
    assert (await rec.done()).kind is OutcomeKind.ABORTED
    ns, pod = handle.split("/")
    name = pod.rsplit("-", 1)[0]
    await _until(lambda: taskaction(k8s_cluster, ns, name).get("status", {}).get("phase") == "TIMED_OUT",
                 "TaskAction status TIMED_OUT")
    ta = taskaction(k8s_cluster, ns, name)
    assert ta["spec"]["abortReason"] == "TimedOut" and ta["status"]["reason"] == "TimedOut"
    # the retry (timeouts are retryable) runs afresh: no abort or reason left from attempt 1
    rec2 = Recorder()
    await plugin.launch(dataclasses.replace(spec, attempt=2, args=("print('in time')",)), rec2)
    assert (await rec2.done()).succeeded
    await _until(lambda: taskaction(k8s_cluster, ns, name).get("status", {}).get("phase") == "SUCCEEDED",
                 "attempt 2 SUCCEEDED")
    ta = taskaction(k8s_cluster, ns, name)
    assert ta["spec"]["abort"] is False and "abortReason" not in ta["spec"] and ta["status"]["attempt"] == 2
    await plugin.close()


async def test_launch_refuses_a_local_venv_image(make_plugin, k8s_cluster, project, tmp_path):
    plugin = await make_plugin()
    spec = spec_for(project, tmp_path, "print('never')", image="/srv/images/venvs/0123abcd")
    with pytest.raises(ValueError) as e:
        await plugin.launch(spec, Recorder())
    assert "/srv/images/venvs/0123abcd" in str(e.value) and "--builder docker" in str(e.value)
    pods = core(k8s_cluster).list_pod_for_all_namespaces(label_selector=f"flyte-jupyter.io/run={spec.run_name}")
    assert pods.items == []
    await plugin.close()


async def test_a_raw_container_is_a_pod_of_its_image_and_templated_command(make_plugin, k8s_cluster, project, tmp_path):
    from flyte_jupyter._internal.runtime import raw_container as raw
    from flyte_jupyter._internal.types import from_literal, to_literal_map
    from flyte_jupyter._internal.wire.proto import literals_pb2

    plugin = await make_plugin()
    inputs = tmp_path / "inputs.pb"
    inputs.write_bytes(to_literal_map({"who": "pods", "n": 41}, {"who": str, "n": int}).SerializeToString())
    out_dir = tmp_path / "outputs"  # the fake kubelet runs the command on this host: a real directory
    config = {raw.CONFIG_KEY: {"image": "flyte-jupyter-test/busybox:1", "inputs": {"who": "str", "n": "int"},
                               "outputs": {"msg": "str"}, "output_data_dir": str(out_dir),
                               "command": ["sh", "-c", f"mkdir -p {out_dir}; echo hello {{{{.inputs.who}}}} "
                                                       f"{{{{.inputs.n}}}} > {out_dir}/msg"]}}
    base = spec_for(project, tmp_path, "", env={"FLYTE_JUPYTER_TOKEN": "secret", "GREETING": "hi"})
    spec = dataclasses.replace(base, task_type=raw.TASK_TYPE, custom=config, args=("a0", "--inputs", str(inputs)))
    rec = Recorder()
    handle = await plugin.launch(spec, rec)
    outcome = await rec.done()
    assert outcome.succeeded, outcome
    lm = literals_pb2.LiteralMap.FromString(open(f"{spec.outputs_path}/outputs.pb", "rb").read())
    assert from_literal(lm.literals["o0"], str) == "hello pods 41"  # the one output, from the termination message

    ns, name = handle.split("/")
    pod = core(k8s_cluster).read_namespaced_pod(name, ns)
    c = pod.spec.containers[0]
    assert c.image == "flyte-jupyter-test/busybox:1" and c.command[:2] == ["sh", "-c"]
    assert c.command[2].endswith(f"echo hello pods 41 > {out_dir}/msg")
    assert c.termination_message_path == f"{out_dir}/msg"
    assert {e.name for e in c.env} == {"GREETING"}  # no backend credential in a raw container
    (inputs_volume,) = [v for v in pod.spec.volumes if v.downward_api is not None]
    assert [item.path for item in inputs_volume.downward_api.items] == ["who", "n"]
    assert pod.metadata.annotations["flyte-jupyter.io/input-0"] == "pods"
    assert {m.mount_path for m in c.volume_mounts} >= {"/var/inputs", str(out_dir)}

    two = dataclasses.replace(spec, custom={raw.CONFIG_KEY: {**config[raw.CONFIG_KEY], "outputs": {"a": "str", "b": "int"}}})
    with pytest.raises(ValueError, match="at most one scalar output"):
        await plugin.launch(two, Recorder())
    await plugin.close()
