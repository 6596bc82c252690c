"""The Kubernetes executor plugin: every attempt of every action runs as a pod.

``launch`` renders the pod, writes the action's TaskAction (creating the namespace on first use) and
lets the controller create the pod; the handle is ``namespace/pod``. Phases come from one pod watch.
``abort`` marks the TaskAction aborted (or timed out, when the executor says so) and deletes the pod.
The backend token is never a value in the pod or TaskAction: it lives in a Secret per namespace. ``logs`` follows the pod log API while the
pod lives and falls back to the copy saved when it ended. ``recover`` adopts a pod that outlived a
backend restart. Timeouts are the executor's (it calls ``abort``); ``activeDeadlineSeconds`` is set
as a second line in case the backend is down when a timeout passes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import threading
from typing import Any, AsyncIterator

from flyte_jupyter._internal.runtime import raw_container as raw
from flyte_jupyter._internal.runtime import usage as _usage
from flyte_jupyter.backend.executor.plugin import (
    ExecutorPlugin,
    LaunchSpec,
    LogLine,
    Outcome,
    OutcomeKind,
    PluginConfig,
    PluginStatus,
    StatusCallback,
)
from flyte_jupyter.backend.plugins.k8s import crd as _crd
from flyte_jupyter.backend.plugins.k8s import names as n
from flyte_jupyter.backend.plugins.k8s import secret as _secret
from flyte_jupyter.backend.plugins.k8s import user_secrets as _user_secrets
from flyte_jupyter.backend.plugins.k8s.config import K8sSettings
from flyte_jupyter.backend.plugins.k8s.controller import ABORTED, TIMED_OUT, Controller
from flyte_jupyter.backend.plugins.k8s.podspec import build_pod, check_raw_task, pod_image
from flyte_jupyter.backend.plugins.k8s.watch import _shutdown

log = logging.getLogger(__name__)


class KubernetesPlugin(ExecutorPlugin):
    name = "kubernetes"
    task_types = ("python", raw.TASK_TYPE)
    runs_on_backend_machine = False  # the cluster's scheduler admits the pods

    def __init__(self, config: PluginConfig, settings: K8sSettings | None = None, api_client: Any = None) -> None:
        self.config = config
        self.settings = settings or K8sSettings.from_dict(config.settings)
        self._api_client = api_client
        self.controller: Controller | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._api_client is None:
            from flyte_jupyter.backend.plugins.k8s.client import make_api_client

            self._api_client = make_api_client(self.settings)
        self.controller = Controller(self.settings, self._api_client)
        await self.controller.start()

    async def close(self) -> None:
        # Running pods are left alone: a restarted backend adopts them (recover).
        if self.controller is not None:
            await self.controller.close()
            self.controller = None

    def _ctl(self) -> Controller:
        if self.controller is None:
            raise RuntimeError("the Kubernetes executor plugin is not started (call start() first)")
        return self.controller

    def namespace(self, spec: LaunchSpec) -> str:
        return n.namespace_for(self.settings.namespace_template, spec.project, spec.domain)

    @staticmethod
    def _key(handle: str) -> tuple[str, str]:
        ns, sep, pod = handle.partition("/")
        if not sep or not ns or not pod:
            raise ValueError(f"not a Kubernetes attempt handle (namespace/pod): {handle!r}")
        return ns, pod

    # -- the interface ----------------------------------------------------------------------------
    def check_task(self, task: Any) -> None:
        """Refuse a task spec this executor cannot run, before a run is created (the run service calls
        this): a local virtual-environment image, a raw container a pod cannot stage. Raises ValueError
        naming the image and the fix."""
        if getattr(task, "type", "") == raw.TASK_TYPE:
            name = getattr(getattr(task, "id", None), "name", "")
            custom = json.loads(task.custom_json) if getattr(task, "custom_json", "") else {}
            check_raw_task(raw.RawConfig.from_custom(custom, name), name)
            return
        pod_image(getattr(task, "image", "") or "", self.settings, getattr(getattr(task, "id", None), "name", ""))

    async def _ensure_secret(self, ns: str, spec: LaunchSpec) -> None:
        _, data = _secret.split_env({**self.settings.env, **(spec.env or {})})
        if data:
            await self._ctl().ensure_secret(ns, _secret.secret_name(self.settings), data)
        if spec.secrets:  # the task's declared secrets, by key in the namespace's secrets Secret
            await self._ctl().ensure_secret(ns, _user_secrets.secret_name(self.settings), _user_secrets.data_of(spec),
                                            merge=_user_secrets.merged)

    async def launch(self, spec: LaunchSpec, on_status: StatusCallback) -> str:
        ctl = self._ctl()
        ns = self.namespace(spec)
        raw_task = None
        if spec.task_type == raw.TASK_TYPE:
            config = raw.RawConfig.from_custom(spec.custom, spec.task_name)
            inputs_uri = raw.launch_arg(spec.args, "--inputs")
            raw_task = (config, await asyncio.to_thread(raw.input_texts, config, inputs_uri))
            on_status = _collecting_output(spec, config, on_status)
        else:
            on_status = _with_usage(spec, on_status)
        pod = build_pod(spec, self.settings, ns, self.config.endpoint, raw_task)  # first: a bad image fails here
        await ctl.ensure_namespace(ns)
        await self._ensure_secret(ns, spec)
        key = (ns, pod["metadata"]["name"])
        ctl.register(key, on_status, spec.log_dir)  # before the pod exists: no event can be missed
        await ctl.submit(ns, ctl.taskaction_body(ns, spec, pod))
        return f"{ns}/{key[1]}"

    async def abort(self, handle: str, spec: LaunchSpec, reason: str = "") -> None:
        """Delete the attempt's pod. ``reason`` is the executor's ("timeout" records TIMED_OUT)."""
        from kubernetes.client.rest import ApiException

        ctl = self._ctl()
        key = self._key(handle)
        att = ctl.attempt(key)
        if att.outcome is not None and att.gone:
            return
        code = TIMED_OUT if reason == "timeout" else ABORTED
        ta_name = n.taskaction_name(spec.run_name, spec.action_name)
        try:  # recorded on the TaskAction, so a restarted controller does not start it again
            await ctl.call(ctl.custom.patch_namespaced_custom_object, _crd.GROUP, _crd.VERSION, key[0],
                           _crd.PLURAL, ta_name, {"spec": {"abort": True, "abortReason": code}})
        except ApiException as e:
            if e.status != 404:
                log.warning("cannot mark TaskAction %s/%s aborted: %s", key[0], ta_name, e.reason)
        if att.outcome is not None:
            return  # it ended by itself meanwhile; cleanup policy decides about the pod
        await ctl.delete_pod(key, reason=code)

    async def recover(self, spec: LaunchSpec, handle: str, on_status: StatusCallback) -> bool:
        from kubernetes.client.rest import ApiException

        ctl = self._ctl()
        key = self._key(handle)
        att = ctl.attempt(key)
        if att.pod is None and att.outcome is None:
            try:  # not seen by the watch yet? ask directly
                pod = await ctl.call(ctl.core.read_namespaced_pod, key[1], key[0], _preload_content=False)
                ctl._pod_changed(json.loads(pod.data))
            except ApiException as e:
                if e.status != 404:
                    raise
        if att.pod is None and att.outcome is None:
            ta = ctl.taskactions.get((key[0], n.taskaction_name(spec.run_name, spec.action_name)))
            status = (ta or {}).get("status") or {}
            pending = ta is not None and int(ta["spec"].get("attempt") or 1) == spec.attempt and (
                status.get("attempt") != spec.attempt or status.get("phase") in (None, "QUEUED"))
            if ta is None or not pending:
                return False  # the pod is gone: the executor treats the attempt as lost
            await self._ensure_secret(key[0], spec)  # the restarted backend's token, for the new pod
            ctl.register(key, on_status, spec.log_dir)
            await ctl.reconcile(ta)  # the backend stopped between TaskAction and pod: create it now
            return True
        ctl.register(key, _with_usage(spec, on_status) if spec.task_type != raw.TASK_TYPE else on_status, spec.log_dir)
        return True

    async def logs(self, spec: LaunchSpec, handle: str | None, follow: bool = False) -> AsyncIterator[LogLine]:
        ctl = self._ctl()
        ns = self.namespace(spec)
        key = self._key(handle) if handle else (ns, n.pod_name(spec.run_name, spec.action_name, spec.attempt))
        att = ctl.attempt(key)
        # The log API has nothing until the container starts: wait for that (or for the end).
        while follow and att.outcome is None and not att.gone and (
                att.pod is None or ((att.pod.get("status") or {}).get("phase") or "Pending") == "Pending"):
            try:
                await asyncio.wait_for(att.changed.wait(), timeout=5)
            except asyncio.TimeoutError:
                pass
        saved = att.saved_log or os.path.join(spec.log_dir, f"{key[1]}.log")
        if att.gone or (att.pod is None and os.path.exists(saved)):
            async for line in _file_lines(saved):
                yield line
            return
        streamed = False
        async for line in _stream_pod_log(ctl, key, follow):
            streamed = True
            yield line
        if not streamed and os.path.exists(saved):
            async for line in _file_lines(saved):
                yield line

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update({"namespace_template": self.settings.namespace_template, "default_image": self.settings.default_image,
                  "instance": self.settings.instance})
        ctl = self.controller
        if ctl is not None and ctl.pod_watch is not None:
            d["pod_watch"] = dict(ctl.pod_watch.stats)
        return d


def _collecting_output(spec: LaunchSpec, config: raw.RawConfig, on_status: StatusCallback) -> StatusCallback:
    """A raw container's one output arrives as its termination message: write outputs.pb (or
    error.pb) from it before the executor hears that the attempt succeeded."""

    def collect(outcome: Outcome) -> Outcome:
        try:
            values = {}
            for name, tp in config.outputs.items():
                values[name] = raw.parse_output(name, tp, outcome.message)
            raw.write_outputs(config, values, spec.outputs_path)
        except Exception as exc:  # noqa: BLE001 - any failure is the action's error
            message = f"action {spec.action_name} (task {spec.task_name}): {exc}"
            raw.write_error(spec.outputs_path, "OutputError", message)
            return Outcome(OutcomeKind.EXITED, exit_code=1, message=message)
        return outcome

    async def finish(status: PluginStatus) -> None:
        outcome = await asyncio.to_thread(collect, status.outcome) if status.outcome else status.outcome
        on_status(PluginStatus(outcome=outcome, message=status.message))

    def wrapped(status: PluginStatus) -> None:
        if status.outcome is not None and status.outcome.succeeded:
            asyncio.ensure_future(finish(status))
        else:
            on_status(status)

    return wrapped


def _with_usage(spec: LaunchSpec, on_status: StatusCallback) -> StatusCallback:
    """The pod's CPU seconds and peak memory, which its entrypoint wrote as `usage.json` beside its
    outputs (`runtime/usage`), join the outcome before the executor records the attempt."""

    async def finish(status: PluginStatus) -> None:
        assert status.outcome is not None
        cpu, peak = await asyncio.to_thread(_usage.read, spec.outputs_path)
        outcome = dataclasses.replace(status.outcome, cpu_seconds=cpu if status.outcome.cpu_seconds is None
                                      else status.outcome.cpu_seconds,
                                      peak_memory_bytes=peak if status.outcome.peak_memory_bytes is None
                                      else status.outcome.peak_memory_bytes)
        on_status(PluginStatus(outcome=outcome, message=status.message))

    def wrapped(status: PluginStatus) -> None:
        if status.outcome is not None:
            asyncio.ensure_future(finish(status))
        else:
            on_status(status)

    return wrapped


async def _file_lines(path: str) -> AsyncIterator[LogLine]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return
    for line in text.splitlines():
        yield LogLine(stream="stdout", text=line)


async def _stream_pod_log(ctl: Controller, key: tuple[str, str], follow: bool) -> AsyncIterator[LogLine]:
    """Lines of the pod log API (a thread reads the HTTP stream and hands lines to the loop)."""
    from kubernetes.client.rest import ApiException

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    done = object()
    stop = threading.Event()
    holder: dict[str, Any] = {}

    def read() -> None:
        try:
            # _preload_content=False: the raw urllib3 response, not the str the stubs declare
            resp: Any = ctl.core.read_namespaced_pod_log(key[1], key[0], follow=follow, _preload_content=False,
                                                         _request_timeout=(10, 86400 if follow else 120))
            holder["resp"] = resp
            buf = b""
            for chunk in resp.stream(amt=None, decode_content=False):
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    loop.call_soon_threadsafe(queue.put_nowait, line.decode("utf-8", "replace"))
                if stop.is_set():
                    break
            if buf:
                loop.call_soon_threadsafe(queue.put_nowait, buf.decode("utf-8", "replace"))
            resp.release_conn()
        except ApiException as e:
            if e.status not in (400, 404):  # 400: container not started / gone, 404: pod gone
                log.warning("pod log %s/%s: %s", key[0], key[1], e.reason)
        except Exception as e:
            if not stop.is_set():
                log.warning("pod log %s/%s interrupted: %r", key[0], key[1], e)
        finally:
            if not loop.is_closed():
                loop.call_soon_threadsafe(queue.put_nowait, done)

    t = threading.Thread(target=read, name=f"k8s-log-{key[1]}", daemon=True)
    t.start()
    try:
        while True:
            item = await queue.get()
            if item is done:
                return
            yield LogLine(stream="stdout", text=item)
    finally:
        stop.set()
        _shutdown(holder.get("resp"))
