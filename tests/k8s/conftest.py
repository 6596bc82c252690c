"""A real Kubernetes control plane for the executor tests: etcd + kube-apiserver + the fake kubelet.

Why a real API server: watches, resourceVersions, 410 Gone, status subresources, RBAC and server-side
dry runs are exactly what a hand-written fake gets wrong. The binary is built from Debian's source
package by ``.ci/setup-k8s.sh`` (cached per machine); without it these tests are skipped with the
command that builds it. Everything listens on free loopback ports and is stopped by PID at the end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]
_BUILD_SCRIPT = _REPO / "scripts" / "build-kube-apiserver.sh"
_FAKE_KUBELET = Path(__file__).resolve().parent / "fake_kubelet.py"
_START_TIMEOUT = 90.0


@pytest.hookimpl(tryfirst=True)  # before tests/conftest.py groups them by this marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.k8s)


def kube_apiserver_binary() -> Path | None:
    """Where .ci/setup-k8s.sh caches the binary (keyed by the build script's hash), or an override."""
    override = os.environ.get("FLYTE_JUPYTER_KUBE_APISERVER")
    if override:
        return Path(override) if os.access(override, os.X_OK) else None
    digest = hashlib.sha256(_BUILD_SCRIPT.read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = cache / "flyte-jupyter" / "kube-apiserver" / digest / "bin" / "kube-apiserver"
    return path if os.access(path, os.X_OK) else None


@dataclasses.dataclass
class Cluster:
    """Connection details of the test control plane."""

    host: str
    token: str
    ca_file: str
    kubeconfig: str
    workdir: Path
    apiserver_argv: list[str] = dataclasses.field(default_factory=list)
    procs: dict[str, subprocess.Popen] = dataclasses.field(default_factory=dict)

    def restart_apiserver(self, spawn_on: asyncio.AbstractEventLoop | None = None) -> None:
        """Stop and start kube-apiserver (same port, same etcd): every watch drops, old versions are gone.

        The new server gets the parent-death signal like the first one. The kernel sends it when
        the *thread* that started the server ends, so a caller in a worker thread (a test's
        `asyncio.to_thread`) passes its event loop: the server is started on the loop's thread,
        which lives as long as the test session."""
        _stop(self.procs["kube-apiserver"])
        log = self.workdir / "kube-apiserver.log"

        def spawn() -> subprocess.Popen:
            return subprocess.Popen(_dying(self.apiserver_argv), stdout=log.open("ab"), stderr=subprocess.STDOUT,
                                    start_new_session=True)

        async def spawn_there() -> subprocess.Popen:
            return spawn()

        self.procs["kube-apiserver"] = (
            asyncio.run_coroutine_threadsafe(spawn_there(), spawn_on).result(30) if spawn_on else spawn())
        _wait("kube-apiserver", lambda: _api_ready(self.host, self.token, self.ca_file),
              self.procs["kube-apiserver"], log)

    def write_kubeconfig(self, path: Path, host: str | None = None) -> str:
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: test\n  cluster:\n    server: {host or self.host}\n"
            f"    certificate-authority: {self.ca_file}\n"
            f"users:\n- name: admin\n  user:\n    token: {self.token}\n"
            "contexts:\n- name: test\n  context:\n    cluster: test\n    user: admin\n"
            "current-context: test\n")
        return str(path)

    def api_client(self):  # -> kubernetes.client.ApiClient
        from kubernetes import client

        cfg = client.Configuration()
        cfg.host = self.host
        cfg.ssl_ca_cert = self.ca_file
        cfg.api_key = {"authorization": f"Bearer {self.token}"}
        return client.ApiClient(cfg)


def _api_ready(host: str, token: str, ca_file: str) -> bool:
    ctx = ssl.create_default_context(cafile=ca_file)
    req = urllib.request.Request(f"{host}/readyz", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=2, context=ctx) as r:
            return r.status == 200
    except (urllib.error.URLError, ConnectionError):
        return False


def _dying(argv: list[str]) -> list[str]:
    """`argv` sent SIGTERM when pytest dies (even by SIGKILL), so that a killed test run leaves no
    etcd, API server or kubelet behind (each also starts in a session of its own)."""
    from _server_process import dying_with_this_process

    return dying_with_this_process(argv, "TERM")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _make_certs(d: Path) -> None:
    """A CA, an API server cert for 127.0.0.1 (also used by the fake kubelet) and a SA key pair."""
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
          "-days", "2", "-subj", "/CN=flyte-jupyter-test-ca"], d)
    _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
          "-subj", "/CN=kube-apiserver"], d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n")
    _run(["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
          "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext"], d)
    _run(["openssl", "genrsa", "-out", "sa.key", "2048"], d)
    _run(["openssl", "rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], d)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


def _tail(path: Path, n: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


def _wait(what: str, check, proc: subprocess.Popen, log: Path, timeout: float = _START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}; log:\n{_tail(log)}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready after {timeout:.0f}s; log:\n{_tail(log)}")


@pytest.fixture(scope="session")
def k8s_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    binary = kube_apiserver_binary()
    if binary is None:
        pytest.skip("kube-apiserver binary not built: run `bash .ci/setup-k8s.sh` (builds it from Debian's "
                    "kubernetes source once per machine, ~10 min; .ci/run does this)")
    etcd = shutil.which("etcd")
    if etcd is None:
        pytest.skip("etcd not installed: run `bash .ci/setup-k8s.sh` (installs Debian's etcd-server)")
    d = tmp_path_factory.mktemp("k8s")
    _make_certs(d)
    token = secrets.token_hex(16)
    (d / "tokens.csv").write_text(f'{token},admin,admin,"system:masters"\n')
    procs: list[subprocess.Popen] = []
    try:
        etcd_port, peer_port, api_port = _free_port(), _free_port(), _free_port()
        etcd_log = d / "etcd.log"
        procs.append(subprocess.Popen(
            _dying([etcd, "--data-dir", str(d / "etcd"), "--name", "default",
             "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
             "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
             "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
             "--initial-cluster", f"default=http://127.0.0.1:{peer_port}"]),
            stdout=etcd_log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True))

        def etcd_ok() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{etcd_port}/health", timeout=2) as r:
                return b"true" in r.read()

        _wait("etcd", etcd_ok, procs[-1], etcd_log)
        api_log = d / "kube-apiserver.log"
        argv = [str(binary), f"--etcd-servers=http://127.0.0.1:{etcd_port}", "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1", f"--secure-port={api_port}", "--insecure-port=0",
                f"--tls-cert-file={d}/server.crt", f"--tls-private-key-file={d}/server.key",
                f"--client-ca-file={d}/ca.crt", f"--token-auth-file={d}/tokens.csv",
                "--authorization-mode=RBAC", "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={d}/sa.pub", f"--service-account-signing-key-file={d}/sa.key",
                "--api-audiences=https://kubernetes.default.svc", "--service-cluster-ip-range=10.0.0.0/24",
                "--disable-admission-plugins=ServiceAccount", "--kubelet-preferred-address-types=InternalIP",
                f"--cert-dir={d}/certs"]
        procs.append(subprocess.Popen(_dying(argv), stdout=api_log.open("wb"), stderr=subprocess.STDOUT,
                                      start_new_session=True))
        host = f"https://127.0.0.1:{api_port}"
        _wait("kube-apiserver", lambda: _api_ready(host, token, str(d / "ca.crt")), procs[-1], api_log)
        cluster = Cluster(host=host, token=token, ca_file=str(d / "ca.crt"), kubeconfig="", workdir=d,
                          apiserver_argv=argv)
        cluster.kubeconfig = cluster.write_kubeconfig(d / "kubeconfig")
        kubeconfig = cluster.kubeconfig
        kubelet_log = d / "fake-kubelet.log"
        procs.append(subprocess.Popen(
            _dying([sys.executable, str(_FAKE_KUBELET), "--kubeconfig", str(kubeconfig), "--cert",
                    str(d / "server.crt"), "--key", str(d / "server.key"), "--workdir", str(d / "kubelet")]),
            stdout=kubelet_log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True))
        _wait("fake kubelet", lambda: b"fake kubelet ready" in kubelet_log.read_bytes(), procs[-1],
              kubelet_log)
        cluster.procs = {"etcd": procs[0], "kube-apiserver": procs[1], "fake-kubelet": procs[2]}
        yield cluster
    finally:
        for p in reversed(list(cluster.procs.values()) if "cluster" in locals() and cluster.procs else procs):
            _stop(p)


@pytest.fixture
def api_client(k8s_cluster: Cluster):
    c = k8s_cluster.api_client()
    yield c
    c.close()


@pytest.fixture
def namespace(api_client) -> str:
    """A fresh namespace per test (never deleted: namespace deletion needs kube-controller-manager)."""
    from kubernetes import client

    name = f"t-{uuid.uuid4().hex[:10]}"
    client.CoreV1Api(api_client).create_namespace({"metadata": {"name": name}})
    return name


class TcpProxy:
    """A loopback TCP forwarder in front of the API server whose connections a test can cut.

    Cutting is what a flaky network or a load balancer does to a long watch; the client sees its
    stream end mid-way and must resume from its resourceVersion.
    """

    def __init__(self, upstream_port: int) -> None:
        import threading

        self.upstream = upstream_port
        self._srv = socket.socket()
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", 0))
        self._srv.listen(64)
        self.port = self._srv.getsockname()[1]
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._closed = False
        self.drops = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while not self._closed:
            try:
                down, _ = self._srv.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
                up.settimeout(None)
            except OSError:
                down.close()
                continue
            with self._lock:
                self._conns += [down, up]
            for a, b in ((down, up), (up, down)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def drop_all(self) -> int:
        """Cut every open connection; returns how many were cut."""
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self.drops += 1
        return len(conns) // 2

    def close(self) -> None:
        self._closed = True
        self._srv.close()
        self.drop_all()


@pytest.fixture
def api_proxy(k8s_cluster: Cluster, tmp_path: Path):
    port = int(k8s_cluster.host.rsplit(":", 1)[1])
    proxy = TcpProxy(port)
    proxy.kubeconfig = k8s_cluster.write_kubeconfig(tmp_path / "kubeconfig-proxy",  # type: ignore[attr-defined]
                                                    host=f"https://127.0.0.1:{proxy.port}")
    yield proxy
    proxy.close()


from _k8s_testlib import make_plugin, project, stub_python  # noqa: E402,F401  (fixtures for the plugin tests)
