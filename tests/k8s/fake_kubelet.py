"""A fake kubelet: makes a real kube-apiserver run pods as local processes.

There is no container runtime on the test machines, so this stands in for the node agent and speaks
the kubelet's side of the protocol to a real API server:

- registers a Ready Node (InternalIP 127.0.0.1, kubeletEndpoint = the HTTPS port served here);
- schedules: binds every unscheduled pod to that node (no kube-scheduler needed);
- runs the first container's ``command + args`` as a local process group (the image is ignored,
  except that images under the reserved ``.invalid`` domain cannot be "pulled": the pod stays Pending
  with ErrImagePull / ImagePullBackOff, as a real kubelet reports a missing image);
- patches the pod status through Pending (ContainerCreating) -> Running -> Succeeded / Failed with
  exit code, reason (Completed, Error, OOMKilled, DeadlineExceeded) and termination message;
- enforces the container's memory limit like a cgroup would: polls the RSS of the whole process group
  and SIGKILLs it when over the limit, then reports OOMKilled with exit code 137;
- enforces ``activeDeadlineSeconds`` (phase Failed, reason DeadlineExceeded);
- resolves env ``valueFrom`` (``fieldRef``, ``secretKeyRef`` read from the API server); a missing Secret
  or key keeps the container waiting with CreateContainerConfigError until it appears, as the kubelet does;
- termination message: read from ``terminationMessagePath`` when that is a writable local path (the
  default ``/dev/termination-log`` is not, since processes are not in a mount namespace here); with
  ``FallbackToLogsOnError`` a failed container's log tail is used, as the real kubelet does;
- serves ``/containerLogs/{ns}/{pod}/{container}`` (``follow``, ``tailLines``, ``limitBytes``) over HTTPS,
  which the API server proxies for the pod log API;
- honours graceful deletion: SIGTERM to the process group, SIGKILL after the grace period, then the
  final delete with grace 0;
- resumes its pod watch from the last resourceVersion and relists on 410 Gone.

Only the first container is run; further containers (sidecars) are reported as waiting with reason
``NotRunByFakeKubelet``. Run: ``python fake_kubelet.py --kubeconfig K --cert C --key K [--node N]``.
It stops every process group it started when it receives SIGTERM.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import http.server
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import psutil
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

_POLL = 0.1  # seconds between checks of a running process (exit, memory, deadline)
_LOG_TAIL_BYTES = 2048  # what the real kubelet keeps of the log for FallbackToLogsOnError
_LOG_TAIL_LINES = 80


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quantity_bytes(q: str | None) -> int | None:
    """Parse a Kubernetes memory quantity ("64Mi", "1G", "500000") into bytes."""
    if not q:
        return None
    q = str(q).strip()
    suffixes = {
        "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60,
        "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    }
    for suf in sorted(suffixes, key=len, reverse=True):
        if q.endswith(suf):
            return int(float(q[: -len(suf)]) * suffixes[suf])
    if q.endswith("m"):  # milli-bytes, legal but odd
        return int(float(q[:-1]) / 1000)
    return int(float(q))


class _ConfigError(Exception):
    """A container cannot be created from its spec yet (e.g. a referenced Secret is missing)."""


class _Container:
    """One running (or finished) container process and everything needed to serve its logs."""

    def __init__(self, logfile: str) -> None:
        self.logfile = logfile
        self.done = threading.Event()
        self.proc: subprocess.Popen | None = None
        self.deleting = False
        self.grace: float = 30.0


class FakeKubelet:
    def __init__(self, core: client.CoreV1Api, node: str, workdir: str) -> None:
        self.core = core
        self.node = node
        self.workdir = workdir
        self.containers: dict[tuple[str, str], _Container] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    # -- node -------------------------------------------------------------------------------
    def register_node(self, port: int) -> None:
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node,
                "labels": {"kubernetes.io/hostname": self.node, "type": "fake-kubelet"}}}
        try:
            self.core.create_node(body)
        except ApiException as e:
            if e.status != 409:
                raise
        self.core.patch_node_status(self.node, {"status": {
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                          {"type": "Hostname", "address": self.node}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
            "capacity": {"cpu": str(os.cpu_count() or 1), "memory": f"{psutil.virtual_memory().total}",
                         "pods": "110"},
            "allocatable": {"cpu": str(os.cpu_count() or 1), "memory": f"{psutil.virtual_memory().total}",
                            "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "fake kubelet is posting ready status",
                            "lastHeartbeatTime": _now(), "lastTransitionTime": _now()}]}})

    # -- status -----------------------------------------------------------------------------
    def _patch_status(self, pod: Any, phase: str, state: dict, *, ready: bool = False,
                      reason: str | None = None, message: str | None = None,
                      started_at: str | None = None) -> None:
        containers = pod.spec.containers
        statuses = [{"name": containers[0].name, "image": containers[0].image or "",
                     "imageID": "", "ready": ready, "restartCount": 0,
                     "started": "running" in state, "state": state}]
        for c in containers[1:]:
            statuses.append({"name": c.name, "image": c.image or "", "imageID": "", "ready": False,
                             "restartCount": 0, "started": False,
                             "state": {"waiting": {"reason": "NotRunByFakeKubelet"}}})
        status: dict[str, Any] = {
            "phase": phase, "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
            "startTime": started_at or _now(),
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Initialized", "status": "True"},
                {"type": "ContainersReady", "status": "True" if ready else "False"},
                {"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": statuses,
        }
        if reason:
            status["reason"] = reason
        if message:
            status["message"] = message
        deadline = time.monotonic() + 120  # the API server may be restarting: keep trying a while
        while True:
            try:
                self.core.patch_namespaced_pod_status(pod.metadata.name, pod.metadata.namespace,
                                                      {"status": status})
                return
            except ApiException as e:
                if e.status == 404:  # deleted meanwhile: nothing to report
                    return
                if e.status < 500 or time.monotonic() > deadline:
                    raise
            except Exception:
                if time.monotonic() > deadline or self.stopping.is_set():
                    raise
            time.sleep(0.5)

    # -- running a pod ----------------------------------------------------------------------
    def _env(self, pod: Any, c: Any) -> dict[str, str]:
        """The container's environment; raises _ConfigError when a referenced Secret or key is missing
        (the real kubelet then keeps the container waiting with CreateContainerConfigError)."""
        env = dict(os.environ)
        field_values = {"metadata.name": pod.metadata.name, "metadata.namespace": pod.metadata.namespace,
                        "metadata.uid": pod.metadata.uid, "spec.nodeName": self.node,
                        "status.podIP": "127.0.0.1", "status.hostIP": "127.0.0.1",
                        "spec.serviceAccountName": pod.spec.service_account_name or "default"}
        for e in c.env or []:
            if e.value_from is not None and e.value_from.field_ref is not None:
                env[e.name] = field_values.get(e.value_from.field_ref.field_path, "")
            elif e.value_from is not None and e.value_from.secret_key_ref is not None:
                ref = e.value_from.secret_key_ref
                data = self._secret_data(pod.metadata.namespace, ref.name)
                if data is not None and ref.key in data:
                    env[e.name] = data[ref.key]
                elif not ref.optional:
                    raise _ConfigError(f'secret "{ref.name}" not found' if data is None else
                                       f"couldn't find key {ref.key} in Secret {pod.metadata.namespace}/{ref.name}")
            else:
                env[e.name] = e.value or ""
        return env

    def _secret_data(self, ns: str, name: str) -> dict[str, str] | None:
        """A Secret's decoded data, or None when it does not exist."""
        try:
            secret = self.core.read_namespaced_secret(name, ns)
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (secret.data or {}).items()}

    def _resolve_env(self, pod: Any, c: Any, started_at: str) -> dict[str, str] | None:
        """Wait (as the kubelet does, retrying) until the env can be built; None if the pod goes away."""
        ent = self.containers[(pod.metadata.namespace, pod.metadata.name)]
        reported = ""
        while not (ent.deleting or self.stopping.is_set()):
            try:
                return self._env(pod, c)
            except _ConfigError as e:
                if str(e) != reported:
                    reported = str(e)
                    self._patch_status(pod, "Pending", {"waiting": {"reason": "CreateContainerConfigError",
                                                                    "message": reported}}, started_at=started_at)
            time.sleep(0.5)
        ent.done.set()
        return None

    def _termination_message(self, c: Any, path: str | None, failed: bool, logfile: str) -> str:
        msg = ""
        if path and not path.startswith("/dev/"):
            try:
                with open(path, "rb") as f:
                    msg = f.read(4096).decode("utf-8", "replace")
            except OSError:
                msg = ""
        if not msg and failed and c.termination_message_policy == "FallbackToLogsOnError":
            with open(logfile, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - _LOG_TAIL_BYTES))
                tail = f.read().decode("utf-8", "replace")
            msg = "\n".join(tail.splitlines()[-_LOG_TAIL_LINES:])
        return msg

    def run_pod(self, pod: Any) -> None:
        ns, name = pod.metadata.namespace, pod.metadata.name
        c = pod.spec.containers[0]
        ent = self.containers[(ns, name)]
        started_at = _now()
        self._patch_status(pod, "Pending", {"waiting": {"reason": "ContainerCreating"}},
                           started_at=started_at)
        image = c.image or ""
        if image.split("/")[0].endswith(".invalid"):
            msg = f'Failed to pull image "{image}": rpc error: code = NotFound desc = manifest unknown'
            self._patch_status(pod, "Pending", {"waiting": {"reason": "ErrImagePull", "message": msg}},
                               started_at=started_at)
            time.sleep(0.5)
            self._patch_status(pod, "Pending", {"waiting": {
                "reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}},
                started_at=started_at)
            ent.done.set()
            return
        argv = list(c.command or []) + list(c.args or [])
        term_path = c.termination_message_path
        if term_path and not term_path.startswith("/dev/"):
            try:
                os.unlink(term_path)
            except OSError:
                pass
        mem_limit = _quantity_bytes(((c.resources and c.resources.limits) or {}).get("memory"))
        env = self._resolve_env(pod, c, started_at)
        if env is None:
            return
        with open(ent.logfile, "wb") as lf:
            try:
                proc = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=env, cwd=c.working_dir or self.workdir,
                                        start_new_session=True)
            except OSError as e:
                ent.done.set()
                self._patch_status(pod, "Failed", {"terminated": {
                    "exitCode": 128, "reason": "StartError", "message": str(e),
                    "startedAt": started_at, "finishedAt": _now()}}, started_at=started_at)
                return
        ent.proc = proc
        run_started = _now()
        self._patch_status(pod, "Running", {"running": {"startedAt": run_started}}, ready=True,
                           started_at=started_at)
        deadline = pod.spec.active_deadline_seconds
        t0 = time.monotonic()
        oom = deadline_hit = False
        while True:
            try:
                rc = proc.wait(timeout=_POLL)
                break
            except subprocess.TimeoutExpired:
                pass
            if mem_limit is not None and _group_rss(proc.pid) > mem_limit:
                oom = True
                _kill_group(proc.pid, signal.SIGKILL)
            elif deadline is not None and time.monotonic() - t0 > deadline and not deadline_hit:
                deadline_hit = True
                _kill_group(proc.pid, signal.SIGKILL)
            if self.stopping.is_set():
                _kill_group(proc.pid, signal.SIGKILL)
        _kill_group(proc.pid, signal.SIGKILL)  # leftovers of the group die with its leader
        ent.done.set()
        if ent.deleting or self.stopping.is_set():
            return
        code = 128 - rc if rc < 0 else rc
        if oom:
            code, reason = 137, "OOMKilled"
        else:
            reason = "Completed" if code == 0 else "Error"
        term: dict[str, Any] = {"exitCode": code, "reason": reason, "startedAt": run_started,
                                "finishedAt": _now(), "containerID": f"fake://{pod.metadata.uid}"}
        msg = self._termination_message(c, term_path, code != 0, ent.logfile)
        if msg:
            term["message"] = msg
        if deadline_hit:
            self._patch_status(pod, "Failed", {"terminated": term}, reason="DeadlineExceeded",
                               message="Pod was active on the node longer than the specified deadline",
                               started_at=started_at)
        else:
            self._patch_status(pod, "Succeeded" if code == 0 else "Failed", {"terminated": term},
                               started_at=started_at)

    def _delete(self, pod: Any) -> None:
        key = (pod.metadata.namespace, pod.metadata.name)
        with self.lock:
            ent = self.containers.get(key)
        if ent is not None and ent.proc is not None and ent.proc.poll() is None:
            ent.deleting = True
            _kill_group(ent.proc.pid, signal.SIGTERM)
            grace = pod.metadata.deletion_grace_period_seconds
            deadline = time.monotonic() + (30 if grace is None else grace)
            while ent.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(_POLL)
            _kill_group(ent.proc.pid, signal.SIGKILL)
        try:
            self.core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace,
                                            grace_period_seconds=0)
        except ApiException as e:
            if e.status != 404:
                raise

    # -- the pod loop -----------------------------------------------------------------------
    def _handle(self, etype: str, pod: Any) -> None:
        key = (pod.metadata.namespace, pod.metadata.name)
        if etype == "DELETED":
            with self.lock:  # the name may be reused by a new pod
                ent = self.containers.get(key)
                if ent is not None and (ent.proc is None or ent.proc.poll() is not None):
                    self.containers.pop(key, None)
            return
        if pod.metadata.deletion_timestamp:
            with self.lock:
                if getattr(self.containers.get(key), "deleting", False):
                    return
                ent = self.containers.setdefault(key, _Container(os.devnull))
                ent.deleting = True
            threading.Thread(target=self._delete, args=(pod,), daemon=True).start()
            return
        if not pod.spec.node_name:
            body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod.metadata.name},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": self.node}}
            try:
                self.core.create_namespaced_pod_binding(pod.metadata.name, pod.metadata.namespace, body,
                                                        _preload_content=False)
            except ApiException as e:
                if e.status not in (404, 409):
                    raise
            return
        if pod.spec.node_name != self.node or (pod.status and pod.status.phase in ("Succeeded", "Failed")):
            return
        with self.lock:
            if key in self.containers:
                return
            logfile = os.path.join(self.workdir, f"{key[0]}_{key[1]}_{pod.metadata.uid}.log")
            open(logfile, "wb").close()
            self.containers[key] = _Container(logfile)
        threading.Thread(target=self._run_safely, args=(pod,), daemon=True).start()

    def _run_safely(self, pod: Any) -> None:
        try:
            self.run_pod(pod)
        except Exception as e:  # keep the kubelet alive; the pod's status shows nothing more
            print(f"fake kubelet: pod {pod.metadata.namespace}/{pod.metadata.name}: {e!r}",
                  file=sys.stderr, flush=True)

    def loop(self) -> None:
        rv: str | None = None
        while not self.stopping.is_set():
            try:
                if rv is None:
                    pods = self.core.list_pod_for_all_namespaces()
                    rv = pods.metadata.resource_version
                    for pod in pods.items:
                        self._handle("ADDED", pod)
                w = watch.Watch()
                for ev in w.stream(self.core.list_pod_for_all_namespaces, resource_version=rv,
                                   timeout_seconds=60, allow_watch_bookmarks=True):
                    if ev["type"] == "ERROR":
                        raw = ev.get("raw_object") or {}
                        if raw.get("code") == 410:
                            rv = None
                            break
                        continue
                    pod = ev["object"]
                    rv = pod.metadata.resource_version
                    if ev["type"] != "BOOKMARK":
                        self._handle(ev["type"], pod)
                    if self.stopping.is_set():
                        break
            except ApiException as e:
                if e.status == 410:
                    rv = None
                else:
                    print(f"fake kubelet: watch error {e.status}: {e.reason}", file=sys.stderr, flush=True)
                    time.sleep(0.5)
            except Exception as e:  # connection dropped: resume from rv
                if self.stopping.is_set():
                    break
                print(f"fake kubelet: watch dropped: {e!r}", file=sys.stderr, flush=True)
                time.sleep(0.5)

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            ents = list(self.containers.values())
        for ent in ents:
            if ent.proc is not None and ent.proc.poll() is None:
                _kill_group(ent.proc.pid, signal.SIGKILL)


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, the way a cgroup would account it."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _log_handler(kubelet: FakeKubelet) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            u = urlparse(self.path)
            parts = u.path.strip("/").split("/")
            if len(parts) != 4 or parts[0] != "containerLogs":
                self.send_error(404, "not found")
                return
            _, ns, pod, _container = parts
            q = parse_qs(u.query)
            follow = q.get("follow") == ["true"]
            tail = int(q["tailLines"][0]) if "tailLines" in q else None
            limit = int(q["limitBytes"][0]) if "limitBytes" in q else None
            with kubelet.lock:
                ent = kubelet.containers.get((ns, pod))
            if ent is None or ent.logfile == os.devnull:
                self.send_error(404, f"container for pod {ns}/{pod} not found")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            sent = 0
            try:
                with open(ent.logfile, "rb") as f:
                    if tail is not None:
                        lines = f.read().splitlines(keepends=True)
                        head = b"".join(lines[-tail:]) if tail > 0 else b""
                        self.wfile.write(head)
                        sent += len(head)
                    while True:
                        chunk = f.read(65536)
                        if limit is not None:
                            chunk = chunk[: max(0, limit - sent)]
                        if chunk:
                            self.wfile.write(chunk)
                            self.wfile.flush()
                            sent += len(chunk)
                            if limit is not None and sent >= limit:
                                return
                            continue
                        if not follow or ent.done.is_set() or kubelet.stopping.is_set():
                            rest = f.read()
                            if rest and (limit is None or sent < limit):
                                self.wfile.write(rest if limit is None else rest[: limit - sent])
                            return
                        time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                return

    return Handler


def _serve_logs(kubelet: FakeKubelet, certfile: str, keyfile: str) -> int:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _log_handler(kubelet))
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv.server_address[1]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--cert", required=True, help="TLS certificate for the log endpoint")
    ap.add_argument("--key", required=True, help="TLS key for the log endpoint")
    ap.add_argument("--node", default="fake-node")
    ap.add_argument("--workdir", default=None, help="where logs and default working dirs go")
    args = ap.parse_args(argv)
    config.load_kube_config(args.kubeconfig)
    core = client.CoreV1Api()
    workdir = args.workdir or tempfile.mkdtemp(prefix="fake-kubelet-")
    os.makedirs(workdir, exist_ok=True)
    kubelet = FakeKubelet(core, args.node, workdir)

    def _on_term(signum: int, frame: Any) -> None:
        kubelet.stop()
        os._exit(0)

    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    port = _serve_logs(kubelet, args.cert, args.key)
    kubelet.register_node(port)
    print(f"fake kubelet ready: node={args.node} logs port={port}", flush=True)
    kubelet.loop()


if __name__ == "__main__":
    main()
