"""The TaskAction controller: TaskAction resources in, pods out, phases back.

Every attempt the executor launches becomes (or updates) a ``TaskAction`` in the action's namespace,
carrying the rendered pod. The controller reconciles TaskActions into pods, one pod per attempt, and
reads pods back into phases, which it writes to the TaskAction's status subresource and reports to
whoever registered for the attempt (the executor's ``on_status``). It is level-triggered: after a
restart it lists TaskActions and pods and carries on, adopting running pods instead of creating
new ones, and it never recreates a pod that existed and vanished (that attempt is lost).

Two watches (pods, TaskActions), each one request across all namespaces, filtered by the executor's
labels; see ``_watch.ListWatch``. All API calls run in a small thread pool, never on the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import datetime
import functools
import logging
import os
import time
from typing import Any, Callable

from flyte_jupyter._internal.runtime.loops import BackgroundTasks
from flyte_jupyter._internal.wire.models import Phase
from flyte_jupyter.backend.executor.plugin import (
    Outcome,
    OutcomeKind,
    PluginStatus,
    StatusCallback,
)
from flyte_jupyter.backend.plugins.k8s import crd as _crd
from flyte_jupyter.backend.plugins.k8s import names as n
from flyte_jupyter.backend.plugins.k8s.config import K8sSettings
from flyte_jupyter.backend.plugins.k8s.status import PodView, view
from flyte_jupyter.backend.plugins.k8s.watch import ListWatch

log = logging.getLogger(__name__)

_RANK: dict[Phase | None, int] = {Phase.INITIALIZING: 1, Phase.RUNNING: 2}  # None (no phase yet): 0
_KINDS = {"exited": OutcomeKind.EXITED, "oom": OutcomeKind.OOM, "lost": OutcomeKind.LOST}
#: TaskAction ``spec.abortReason`` of an attempt the executor stopped at its timeout (else "Aborted").
TIMED_OUT = "TimedOut"
ABORTED = "Aborted"


def _rfc3339(t: float | None = None) -> str:
    return datetime.datetime.fromtimestamp(t or time.time(), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Attempt:
    """What the controller knows about one pod (one attempt), whether or not someone listens."""

    __slots__ = ("key", "callback", "log_dir", "last_phase", "outcome", "aborting", "abort_reason", "pod",
                 "gone", "changed", "stuck_handle", "ta_name", "attempt", "saved_log")

    def __init__(self, key: tuple[str, str]) -> None:
        self.key = key
        self.callback: StatusCallback | None = None
        self.log_dir: str | None = None
        self.last_phase: Phase | None = None
        self.outcome: Outcome | None = None
        self.aborting = False
        self.abort_reason = ""  # the TaskAction's abortReason: "TimedOut" records TIMED_OUT
        self.pod: dict[str, Any] | None = None
        self.gone = False  # the pod existed and was deleted
        self.changed = asyncio.Event()
        self.stuck_handle: asyncio.TimerHandle | None = None
        self.ta_name: str | None = None
        self.attempt: int | None = None
        self.saved_log: str | None = None


class Controller:
    def __init__(self, settings: K8sSettings, api_client: Any) -> None:
        from kubernetes import client

        self.settings = settings
        self.api = api_client
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.rbac = client.RbacAuthorizationV1Api(api_client)
        self.selector = n.selector(settings.instance)
        self.attempts: dict[tuple[str, str], _Attempt] = {}
        self.taskactions: dict[tuple[str, str], dict[str, Any]] = {}
        self._namespaces: set[str] = set()
        self._secrets: dict[tuple[str, str], dict[str, str]] = {}  # what each namespace's Secret holds
        self._secret_locks: dict[str, asyncio.Lock] = {}
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="k8s-api")
        self._status_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._creating: set[tuple[str, str]] = set()
        self._background = BackgroundTasks(log, "kubernetes controller")
        self._timers: list[asyncio.TimerHandle] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.pod_watch: ListWatch | None = None
        self.ta_watch: ListWatch | None = None

    # -- plumbing ---------------------------------------------------------------------------------
    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one blocking client call in the controller's thread pool."""
        assert self._loop is not None
        return await self._loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def attempt(self, key: tuple[str, str]) -> _Attempt:
        att = self.attempts.get(key)
        if att is None:
            att = self.attempts[key] = _Attempt(key)
        return att

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.settings.install_crd:
            try:
                await self.call(_crd.install_crd, self.api)
            except PermissionError as e:
                log.warning("%s", e)
                await self.call(self._check_crd)
        else:
            await self.call(self._check_crd)
        self.pod_watch = ListWatch(
            "pods", self.core.list_pod_for_all_namespaces, label_selector=self.selector, loop=self._loop,
            on_events=self._on_pod_events, on_sync=self._on_pod_sync,
            timeout_seconds=self.settings.watch_timeout_seconds)
        self.ta_watch = ListWatch(
            "taskactions",
            functools.partial(self.custom.list_cluster_custom_object, _crd.GROUP, _crd.VERSION, _crd.PLURAL),
            label_selector=self.selector, loop=self._loop, on_events=self._on_ta_events,
            on_sync=self._on_ta_sync, timeout_seconds=self.settings.watch_timeout_seconds)
        self.pod_watch.start()
        self.ta_watch.start()
        for w in (self.pod_watch, self.ta_watch):
            if not await self._loop.run_in_executor(None, w.synced.wait, 60):
                raise TimeoutError(f"the Kubernetes {w.name} watch did not sync in 60s; is the API server up?")
        await asyncio.sleep(0)  # let the sync callbacks queued by the watch threads run

    def _check_crd(self) -> None:
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        try:
            client.ApiextensionsV1Api(self.api).read_custom_resource_definition(_crd.CRD_NAME)
        except ApiException as e:
            if e.status == 404:
                raise RuntimeError(
                    f"the {_crd.CRD_NAME} CRD is not installed: apply deploy/kubernetes/crd-taskaction.yaml "
                    f"as a cluster admin, or set executor_config.install_crd: true") from e
            if e.status != 403:  # cannot check: carry on, TaskAction calls will say more
                raise

    async def close(self) -> None:
        for w in (self.pod_watch, self.ta_watch):
            if w is not None:
                await asyncio.get_running_loop().run_in_executor(None, w.stop)
        for h in self._timers:
            h.cancel()
        for att in self.attempts.values():
            if att.stuck_handle is not None:
                att.stuck_handle.cancel()
        self._background.cancel_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- namespaces -------------------------------------------------------------------------------
    async def ensure_namespace(self, ns: str) -> None:
        """Create the action namespace on first use (and bind the backend's role in it)."""
        if ns in self._namespaces:
            return
        from kubernetes.client.rest import ApiException

        try:
            await self.call(self.core.create_namespace, {"metadata": {"name": ns, "labels": {n.MANAGED_BY: n.MANAGER}}})
        except ApiException as e:
            if e.status == 403:
                try:  # may exist already and we may not create namespaces
                    await self.call(self.core.read_namespace, ns)
                except ApiException:
                    raise PermissionError(
                        f"namespace {ns!r} does not exist and the backend may not create it: create it, or "
                        f"grant the backend's service account create on namespaces (deploy/kubernetes/rbac.yaml)"
                    ) from e
            elif e.status != 409:
                raise
        if self.settings.bind_service_account:
            sa_ns, _, sa_name = self.settings.bind_service_account.partition("/")
            body = {"metadata": {"name": self.settings.action_role, "labels": {n.MANAGED_BY: n.MANAGER}},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                "name": self.settings.action_role},
                    "subjects": [{"kind": "ServiceAccount", "name": sa_name, "namespace": sa_ns}]}
            try:
                await self.call(self.rbac.create_namespaced_role_binding, ns, body)
            except ApiException as e:
                if e.status != 409:
                    raise
        self._namespaces.add(ns)

    # -- the token Secret -------------------------------------------------------------------------
    async def ensure_secret(self, ns: str, name: str, data: dict[str, str],
                            merge: Callable[[dict[str, str], dict[str, str]], dict[str, str]] | None = None) -> None:
        """Create or update the namespace's Secret so that it holds ``data`` (once per value and process);
        ``merge(current, data)`` says what it holds after (default: the token Secret's `merged`).

        Only get/create/update on this one name: what deploy/kubernetes/rbac.yaml grants.
        """
        from flyte_jupyter.backend.plugins.k8s import secret as _secret

        if _secret.holds(self._secrets.get((ns, name)), data):
            return
        from kubernetes.client.rest import ApiException

        async with self._secret_locks.setdefault(ns, asyncio.Lock()):
            if _secret.holds(self._secrets.get((ns, name)), data):
                return
            for attempt in range(10):
                what = "read"
                try:
                    try:
                        current = await self.call(self.core.read_namespaced_secret, name, ns)
                    except ApiException as e:
                        if e.status != 404:
                            raise
                        current = None
                    what = "write"
                    # Merge, never replace: other runs' pods that have not started yet still need
                    # their keys; merged() drops expired run credentials.
                    want = (merge or _secret.merged)(_secret.decoded(current) if current is not None else {}, data)
                    body = _secret.secret_body(name, ns, want, self.settings)
                    if current is None:
                        await self.call(self.core.create_namespaced_secret, ns, body)
                    elif _secret.decoded(current) != want:
                        body["metadata"]["resourceVersion"] = current.metadata.resource_version
                        await self.call(self.core.replace_namespaced_secret, name, ns, body)
                    self._secrets[(ns, name)] = want
                    return
                except ApiException as e:
                    # 409: created or changed meanwhile, read it again; 403 just after the namespace
                    # was made: the new RoleBinding may take a moment to reach the authorizer
                    if e.status == 409 or (e.status == 403 and attempt < 9):
                        await asyncio.sleep(0 if e.status == 409 else 0.5)
                        continue
                    raise _secret_error(ns, name, what, e) from None
            raise RuntimeError(f"the Secret {ns}/{name} kept changing while the executor wrote it; "
                               f"is another backend using the same instance name?")

    # -- TaskActions ------------------------------------------------------------------------------
    def taskaction_body(self, ns: str, spec: Any, pod: dict[str, Any]) -> dict[str, Any]:
        name = n.taskaction_name(spec.run_name, spec.action_name)
        labels = {k: v for k, v in pod["metadata"]["labels"].items() if k != n.L_ATTEMPT}
        return {
            "apiVersion": _crd.API_VERSION, "kind": _crd.KIND,
            "metadata": {"name": name, "namespace": ns, "labels": labels,
                         "annotations": {n.A_RUN: spec.run_name, n.A_ACTION: spec.action_name}},
            "spec": {
                "runName": spec.run_name, "actionName": spec.action_name, "project": spec.project,
                "domain": spec.domain, "taskType": spec.task_type or "python", "taskName": spec.task_name,
                "attempt": spec.attempt, "abort": False,
                "task": {"version": spec.task_version, "timeoutSeconds": spec.timeout,
                         "pod": {"metadata": {"labels": pod["metadata"]["labels"],
                                              "annotations": pod["metadata"]["annotations"]},
                                 "spec": pod["spec"]}},
            },
        }

    async def submit(self, ns: str, body: dict[str, Any]) -> None:
        """Create the TaskAction, or point an existing one at the new attempt; then reconcile it."""
        from kubernetes.client.rest import ApiException

        name = body["metadata"]["name"]
        try:
            ta = await self.call(self.custom.create_namespaced_custom_object, _crd.GROUP, _crd.VERSION, ns,
                                 _crd.PLURAL, body)
        except ApiException as e:
            if e.status != 409:
                raise
            # a merge patch keeps keys it does not name: drop the abort reason of an earlier attempt
            ta = await self.call(self.custom.patch_namespaced_custom_object, _crd.GROUP, _crd.VERSION, ns,
                                 _crd.PLURAL, name, {"spec": {**body["spec"], "abortReason": None}})
        self.taskactions[(ns, name)] = ta
        await self.reconcile(ta)

    def _on_ta_sync(self, items: list[dict[str, Any]]) -> None:
        self.taskactions = {(t["metadata"]["namespace"], t["metadata"]["name"]): t for t in items}
        for t in items:
            self._background.spawn(self.reconcile(t))

    def _on_ta_events(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        for etype, t in events:
            key = (t["metadata"]["namespace"], t["metadata"]["name"])
            if etype == "DELETED":
                self.taskactions.pop(key, None)
                continue
            self.taskactions[key] = t
            self._background.spawn(self.reconcile(t))

    async def reconcile(self, ta: dict[str, Any]) -> None:
        """Make the world match one TaskAction: its attempt's pod exists, or is deleted when aborted."""
        from kubernetes.client.rest import ApiException

        ns, name = ta["metadata"]["namespace"], ta["metadata"]["name"]
        spec, status = ta.get("spec") or {}, ta.get("status") or {}
        attempt = int(spec.get("attempt") or 1)
        pod_name = f"{name}-{attempt}"
        key = (ns, pod_name)
        att = self.attempt(key)
        att.ta_name, att.attempt = name, attempt
        if spec.get("abort"):
            if not att.aborting:
                await self.delete_pod(key, reason=spec.get("abortReason") or "aborted")
            return
        started_before = status.get("attempt") == attempt and status.get("phase") not in (None, "QUEUED")
        if att.pod is not None or att.gone or att.outcome is not None or started_before or key in self._creating:
            return  # the pod exists, or existed: never run an attempt twice
        template = (spec.get("task") or {}).get("pod")
        if not template:
            return
        body = copy.deepcopy(template)
        body.update({"apiVersion": "v1", "kind": "Pod"})
        body["metadata"].update({"name": pod_name, "namespace": ns})
        body["metadata"].setdefault("labels", {}).update({n.L_TASKACTION: name, n.L_ATTEMPT: str(attempt)})
        body["metadata"]["ownerReferences"] = [{
            "apiVersion": _crd.API_VERSION, "kind": _crd.KIND, "name": name, "uid": ta["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": False}]
        self._creating.add(key)
        try:
            await self.call(self.core.create_namespaced_pod, ns, body)
        except ApiException as e:
            if e.status != 409:  # 409: it exists already (a restart, a concurrent reconcile): adopt it
                self._creating.discard(key)
                await self._write_status(ns, name, {"attempt": attempt, "phase": "FAILED", "podName": pod_name,
                                                    "reason": "PodCreateError", "message": str(e.body or e)[:2000]})
                raise
        self._creating.discard(key)
        await self._write_status(ns, name, {"attempt": attempt, "phase": "INITIALIZING", "podName": pod_name,
                                            "reason": "PodCreated", "message": ""}, only_if_attempt_new=True)

    async def _write_status(self, ns: str, name: str, status: dict[str, Any], *,
                            only_if_attempt_new: bool = False) -> None:
        """Patch the TaskAction's status subresource; writes for one TaskAction keep their order."""
        from kubernetes.client.rest import ApiException

        lock = self._status_locks.setdefault((ns, name), asyncio.Lock())
        async with lock:
            cur = (self.taskactions.get((ns, name)) or {}).get("status") or {}
            if only_if_attempt_new and cur.get("attempt") == status.get("attempt") and cur.get("phase"):
                return
            # the API server reads an empty string in a patch as null: always say something
            status = {k: v for k, v in status.items() if v is not None}
            for field in ("reason", "message"):
                if not status.get(field):
                    status[field] = str(status.get("phase", "")).capitalize() or "-"
            status = {**status, "observedGeneration": (self.taskactions.get((ns, name)) or {}).get(
                "metadata", {}).get("generation", 0)}
            for attempt in range(5):
                try:
                    ta = await self.call(self.custom.patch_namespaced_custom_object_status, _crd.GROUP,
                                         _crd.VERSION, ns, _crd.PLURAL, name, {"status": status})
                    self.taskactions[(ns, name)] = ta
                    return
                except ApiException as e:
                    if e.status == 404:  # the TaskAction was deleted (cleanup): nothing to record
                        return
                    if e.status < 500 or attempt == 4:
                        log.warning("cannot write status of TaskAction %s/%s: %s %s", ns, name, e.reason,
                                    (e.body or "")[:500])
                        return
                except Exception as e:  # connection dropped: the API server may be restarting
                    if attempt == 4:
                        log.warning("cannot write status of TaskAction %s/%s: %r", ns, name, e)
                        return
                await asyncio.sleep(0.5 * 2**attempt)

    # -- pods -------------------------------------------------------------------------------------
    def _on_pod_sync(self, pods: list[dict[str, Any]]) -> None:
        present = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods}
        for key, att in list(self.attempts.items()):
            if att.pod is not None and key not in present:  # deleted while we were not watching
                self._pod_gone(att)
        for p in pods:
            self._pod_changed(p)

    def _on_pod_events(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        for etype, p in events:
            if etype == "DELETED":
                att = self.attempt((p["metadata"]["namespace"], p["metadata"]["name"]))
                att.pod = p
                self._pod_gone(att)
            else:
                self._pod_changed(p)

    def _pod_changed(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        att = self.attempt((meta["namespace"], meta["name"]))
        att.pod = pod
        att.ta_name = (meta.get("labels") or {}).get(n.L_TASKACTION, att.ta_name)
        try:
            att.attempt = int((meta.get("labels") or {}).get(n.L_ATTEMPT, att.attempt or 1))
        except ValueError:
            pass
        att.changed.set()
        att.changed = asyncio.Event()
        if meta.get("deletionTimestamp"):
            return  # going away: the DELETED event settles it
        self._apply(att, view(pod))

    def _apply(self, att: _Attempt, v: PodView) -> None:
        if att.outcome is not None:
            return
        if v.ended is not None:
            kind = _KINDS[v.ended]
            self._finish(att, Outcome(kind=kind, exit_code=v.exit_code, message=v.message), v)
            return
        if v.stuck_since is not None:
            remaining = v.stuck_since + self.settings.image_pull_grace_seconds - time.time()
            if remaining <= 0:
                self._finish(att, Outcome(kind=OutcomeKind.LOST, message=v.message), v)
                self._background.spawn(self.delete_pod(att.key, reason=v.reason, report=False))
                return
            if att.stuck_handle is None:
                assert self._loop is not None
                att.stuck_handle = self._loop.call_later(remaining + 0.05, self._recheck, att)
        if v.phase is not None and _RANK[v.phase] > _RANK.get(att.last_phase, 0):
            att.last_phase = v.phase
            if att.callback is not None:
                att.callback(PluginStatus(phase=v.phase, message=v.message))
            if att.ta_name:
                status: dict[str, Any] = {"attempt": att.attempt, "phase": v.phase.value, "podName": att.key[1],
                                          "reason": v.reason, "message": v.message}
                if v.phase is Phase.RUNNING:
                    status["startedAt"] = v.started_at or _rfc3339()
                self._background.spawn(self._write_status(att.key[0], att.ta_name, status))

    def _recheck(self, att: _Attempt) -> None:
        att.stuck_handle = None
        if att.pod is not None and att.outcome is None and not att.gone:
            self._apply(att, view(att.pod))

    def _pod_gone(self, att: _Attempt) -> None:
        if att.gone:
            return
        att.gone = True
        att.changed.set()
        att.changed = asyncio.Event()
        if att.outcome is None:
            if att.aborting and att.abort_reason == TIMED_OUT:
                self._finish(att, Outcome(kind=OutcomeKind.ABORTED, message="timed out: the pod was deleted"), None)
            elif att.aborting:
                self._finish(att, Outcome(kind=OutcomeKind.ABORTED, message="aborted: the pod was deleted"), None)
            else:
                self._finish(att, Outcome(kind=OutcomeKind.LOST,
                                          message=f"pod {att.key[0]}/{att.key[1]} was deleted before it ended"), None)

    def _finish(self, att: _Attempt, outcome: Outcome, v: PodView | None) -> None:
        att.outcome = outcome
        if att.stuck_handle is not None:
            att.stuck_handle.cancel()
            att.stuck_handle = None
        if att.callback is not None:
            att.callback(PluginStatus(outcome=outcome, message=outcome.message))
        phase = {OutcomeKind.ABORTED: "ABORTED"}.get(outcome.kind, "SUCCEEDED" if outcome.succeeded else "FAILED")
        reason = (v.reason if v else outcome.kind.value) or outcome.kind.value
        if outcome.kind is OutcomeKind.ABORTED and att.abort_reason == TIMED_OUT:
            phase, reason = "TIMED_OUT", TIMED_OUT
        if att.ta_name:
            status: dict[str, Any] = {"attempt": att.attempt, "phase": phase, "podName": att.key[1],
                                      "reason": reason,
                                      "message": outcome.message[:4000], "endedAt": (v.ended_at if v else None) or _rfc3339()}
            if outcome.exit_code is not None:
                status["exitCode"] = outcome.exit_code
            self._background.spawn(self._write_status(att.key[0], att.ta_name, status))
        if not att.gone:
            self._schedule_cleanup(att, outcome.succeeded)

    # -- abort, cleanup ---------------------------------------------------------------------------
    async def delete_pod(self, key: tuple[str, str], *, reason: str = "aborted", report: bool = True) -> None:
        """Delete an attempt's pod (gracefully, then by force if it lingers). Reports ABORTED when gone."""
        from kubernetes.client.rest import ApiException

        att = self.attempt(key)
        att.aborting = att.aborting or report
        if report and not att.abort_reason:
            att.abort_reason = reason
        grace = self.settings.abort_grace_seconds
        try:
            await self.call(self.core.delete_namespaced_pod, key[1], key[0], grace_period_seconds=grace)
        except ApiException as e:
            if e.status != 404:
                raise
            if att.outcome is None and report:
                self._pod_gone(att)
            return
        assert self._loop is not None
        self._timers.append(self._loop.call_later(grace + 10, lambda: self._background.spawn(self._force_delete(key))))

    async def _force_delete(self, key: tuple[str, str]) -> None:
        from kubernetes.client.rest import ApiException

        if self.attempt(key).gone:
            return
        try:
            await self.call(self.core.delete_namespaced_pod, key[1], key[0], grace_period_seconds=0)
        except ApiException as e:
            if e.status != 404:
                raise

    def _schedule_cleanup(self, att: _Attempt, succeeded: bool) -> None:
        delay = self.settings.delete_succeeded_after_seconds if succeeded else self.settings.delete_failed_after_seconds
        if delay < 0:
            return
        assert self._loop is not None
        self._timers.append(self._loop.call_later(delay, lambda: self._background.spawn(self._cleanup(att, succeeded))))

    async def _cleanup(self, att: _Attempt, succeeded: bool) -> None:
        """Delete a finished pod (its log is saved first), and its TaskAction once the action is over."""
        from kubernetes.client.rest import ApiException

        if att.gone:
            return
        await self.save_log(att)
        try:
            await self.call(self.core.delete_namespaced_pod, att.key[1], att.key[0], grace_period_seconds=0)
        except ApiException as e:
            if e.status != 404:
                raise
        ta = self.taskactions.get((att.key[0], att.ta_name or ""))
        if ta is not None and succeeded and int(ta["spec"].get("attempt") or 1) == att.attempt:
            try:
                await self.call(self.custom.delete_namespaced_custom_object, _crd.GROUP, _crd.VERSION,
                                att.key[0], _crd.PLURAL, att.ta_name)
            except ApiException as e:
                if e.status != 404:
                    raise

    async def save_log(self, att: _Attempt) -> None:
        """Keep a copy of a finished pod's log in the attempt's log directory (it outlives the pod)."""
        from kubernetes.client.rest import ApiException

        if att.log_dir is None or att.saved_log is not None:
            return
        try:
            # The raw bytes, decoded here: some client versions turn the body into the repr of bytes.
            resp = await self.call(self.core.read_namespaced_pod_log, att.key[1], att.key[0],
                                   _preload_content=False)
            text = resp.data.decode("utf-8", "replace")
        except ApiException:
            return
        path = os.path.join(att.log_dir, f"{att.key[1]}.log")
        os.makedirs(att.log_dir, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text or "")
        att.saved_log = path

    # -- registration -----------------------------------------------------------------------------
    def register(self, key: tuple[str, str], callback: StatusCallback, log_dir: str | None) -> _Attempt:
        """Listen to one attempt; what already happened to it is reported at once, in order."""
        att = self.attempt(key)
        att.callback = callback
        att.log_dir = log_dir
        if att.last_phase is not None and att.outcome is None:
            callback(PluginStatus(phase=att.last_phase))
        if att.outcome is not None:
            callback(PluginStatus(outcome=att.outcome, message=att.outcome.message))
        return att


def _secret_error(ns: str, name: str, what: str, e: Any) -> Exception:
    if e.status == 403:
        return PermissionError(
            f"the backend may not {what} the Secret {ns}/{name} that passes its token to action pods: grant "
            f"get/update on secrets named {name} and create on secrets in action namespaces (the "
            f"flyte-jupyter-actions role in deploy/kubernetes/rbac.yaml)")
    return RuntimeError(f"cannot {what} the Secret {ns}/{name}: {e.status} {e.reason}")
