"""A private Docker engine for the tests: Debian's dockerd, its own socket, base images imported.

No image registry is reachable from these machines and the host's engine (if any) is not ours to
touch, so every test session starts its own `dockerd` in a temporary directory:

* `--storage-driver overlay2` when the kernel has overlayfs, else (or when it fails) `vfs`, which
  works on any filesystem (see `start_engine`); `--bridge=none`, `--iptables=false`,
  `--ip-masq=false`: no host network changes. Containers run with
  `--network none`; builds that need the network use `--network host`.
* data root, exec root, pid file and socket all under the temp dir; containerd namespaces named after
  it, so two sessions (or two engineers) never see each other's containers.
* the base images built once per machine by `.ci/setup-docker.sh` (a debootstrap'd Debian bookworm
  with python3, a static busybox) are imported with `docker import`; the Debian one is also tagged
  `python:X.Y-slim-bookworm`, the name `Image.from_debian_base()` builds FROM, so generated
  Dockerfiles build unchanged and offline.
* a local registry (Debian's `docker-registry`) on a free loopback port, which the engine treats as
  insecure (127.0.0.0/8 always is).

The daemons get `PR_SET_PDEATHSIG` (they die with the test process even on SIGKILL), and `stop()`
(run by the session fixture and by atexit) removes every container, stops dockerd and the registry
by PID, kills whatever process still names the temp dir (container shims), unmounts what the
engine left mounted there and deletes it. Tests reach the engine through `DOCKER_HOST`.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[2]
SETUP_SCRIPT = REPO / ".ci" / "setup-docker.sh"
START_TIMEOUT_S = 60.0
ENV_STORAGE = "FLYTE_JUPYTER_TEST_DOCKER_STORAGE"
ENGINE_PARENT = "/tmp"
ENGINE_PREFIX = "fjd-"
STOP_TIMEOUT_S = 30.0


class EngineUnavailable(Exception):
    """The engine cannot start here; the message says why (tests skip with it)."""


def base_image_cache() -> Path:
    """Where .ci/setup-docker.sh keeps the base root filesystems (keyed by the script's hash)."""
    digest = hashlib.sha256(SETUP_SCRIPT.read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "flyte-jupyter" / "docker-base" / digest


def _dying(argv: list[str]) -> list[str]:
    """`argv` sent SIGTERM when this test process dies (even by SIGKILL): no dockerd or registry
    outlives a killed test run."""
    from _server_process import dying_with_this_process

    return dying_with_this_process(argv, "TERM")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class Engine:
    """A running private engine (and registry). `docker(...)` runs the client against it."""

    root: Path
    host: str
    registry: str
    bases: Dict[str, str]  # manifest name ("debian", "busybox") -> repository:tag
    python: str  # the Debian base's python X.Y
    dockerd: subprocess.Popen
    storage_driver: str = "vfs"
    registry_proc: Optional[subprocess.Popen] = None
    _stopped: bool = False

    @property
    def env(self) -> Dict[str, str]:
        return dict(os.environ, DOCKER_HOST=self.host)

    def docker(self, *args: str, check: bool = True, timeout: float = 300.0) -> subprocess.CompletedProcess:
        proc = subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def pids(self) -> List[int]:
        """Every live process whose command line names this engine's directory (dockerd, containerd,
        shims, the registry), so a test can check that nothing is left."""
        return _pids_naming(self.root)

    def mounts(self) -> List[str]:
        """What is still mounted under this engine's directory."""
        return _mounts_under(self.root)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.dockerd.poll() is None:
            try:
                ids = self.docker("ps", "-aq", check=False, timeout=30).stdout.split()
                if ids:
                    self.docker("rm", "-f", *ids, check=False, timeout=120)
            except subprocess.TimeoutExpired:
                pass
        _terminate(self.dockerd)
        if self.registry_proc is not None:
            _terminate(self.registry_proc)
        for pid in self.pids():  # shims of containers dockerd could not stop
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        for point in sorted(self.mounts(), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _terminate(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _wait_for(what: str, ready, proc: subprocess.Popen, log: Path, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise EngineUnavailable(f"{what} exited with {proc.returncode} at start:\n{tail}")
        if ready():
            return
        time.sleep(0.2)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
    raise EngineUnavailable(f"{what} did not become ready within {timeout:.0f}s:\n{tail}")


def start_engine(
    *, bases: Optional[Sequence[str]] = None, registry: bool = True, storage_driver: Optional[str] = None,
) -> Engine:
    """Start a private dockerd (and registry) and import the cached bases (all, or those named in
    `bases`). Raises EngineUnavailable with the reason when this machine cannot run one (not root,
    no dockerd, no cached bases).

    Storage: `storage_driver`, else $FLYTE_JUPYTER_TEST_DOCKER_STORAGE, else overlay2 when the kernel
    has overlayfs (a build step costs a mount, where vfs copies the whole root filesystem: about 10x
    faster builds here), falling back to vfs (works everywhere) when overlay2 does not start."""
    if os.geteuid() != 0:
        raise EngineUnavailable("dockerd needs root here (no rootless setup); run the tests as root")
    for exe in ("dockerd", "docker", "containerd", "runc") + (("docker-registry",) if registry else ()):
        if shutil.which(exe) is None:
            raise EngineUnavailable(f"`{exe}` is not installed: run `bash .ci/setup-docker.sh`")
    manifest_path = base_image_cache() / "images.json"
    if not manifest_path.is_file():
        raise EngineUnavailable(f"no base images in {manifest_path.parent}: run `bash .ci/setup-docker.sh` (once per machine)")
    chosen = storage_driver or os.environ.get(ENV_STORAGE)
    if chosen:
        drivers = [chosen]
    else:
        drivers = ["overlay2", "vfs"] if "overlay" in Path("/proc/filesystems").read_text() else ["vfs"]
    failures = []
    for driver in drivers:
        try:
            engine = _start_dockerd(driver)
        except EngineUnavailable as exc:
            failures.append(f"{driver}: {exc}")
            continue
        break
    else:
        raise EngineUnavailable("dockerd did not start; " + "; ".join(failures))
    try:
        if registry:
            _start_registry(engine)
        _import_bases(engine, json.loads(manifest_path.read_text()), manifest_path.parent, bases)
    except BaseException:
        engine.stop()
        raise
    return engine


def _pids_naming(path: Path) -> List[int]:
    marker = str(path).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if marker in Path(f"/proc/{entry}/cmdline").read_bytes():
                found.append(int(entry))
        except OSError:
            continue
    return found


def _mounts_under(path: Path) -> List[str]:
    prefix = str(path)
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            out.append(point)
    return out


def _remove_dead_engines(min_age_s: float = 300.0) -> None:
    """Delete what sessions killed before their clean-up left (their daemons died with them)."""
    now = time.time()
    for root in Path(ENGINE_PARENT).glob(f"{ENGINE_PREFIX}*"):
        try:
            if not root.is_dir() or now - root.stat().st_mtime < min_age_s or _pids_naming(root):
                continue
        except OSError:
            continue
        for point in sorted(_mounts_under(root), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _start_dockerd(storage_driver: str) -> Engine:
    _remove_dead_engines()
    # A short path: unix sockets (dockerd's, containerd's) must fit in 108 bytes.
    root = Path(tempfile.mkdtemp(prefix=ENGINE_PREFIX, dir=ENGINE_PARENT))
    log = root / "dockerd.log"
    sock = root / "docker.sock"
    ns = "fjd" + hashlib.sha256(str(root).encode()).hexdigest()[:12]  # containerd: [A-Za-z0-9] words
    argv = [
        "dockerd", "--storage-driver", storage_driver, "--iptables=false", "--ip-masq=false", "--bridge=none",
        "--ip-forward=false", "--userland-proxy=false", "--data-root", str(root / "data"),
        "--exec-root", str(root / "exec"), "--pidfile", str(root / "dockerd.pid"), "--host", f"unix://{sock}",
        "--containerd-namespace", ns, "--containerd-plugins-namespace", f"{ns}-plugins",
        "--log-level", "warn",
    ]
    try:
        dockerd = subprocess.Popen(_dying(argv), stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise EngineUnavailable(f"cannot start dockerd: {exc}") from None
    engine = Engine(root=root, host=f"unix://{sock}", registry="", bases={}, python="", dockerd=dockerd,
                    storage_driver=storage_driver)
    atexit.register(engine.stop)

    def ready() -> bool:
        return sock.exists() and engine.docker("version", "--format", "{{.Server.Version}}", check=False,
                                               timeout=10).returncode == 0

    try:
        _wait_for("dockerd", ready, dockerd, log)
        driver = engine.docker("info", "--format", "{{.Driver}}").stdout.strip()
        if driver != storage_driver:
            raise EngineUnavailable(f"dockerd runs with the {driver} storage driver, not {storage_driver}")
    except BaseException:
        engine.stop()
        raise
    return engine


def _start_registry(engine: Engine) -> None:
    port = _free_port()
    config = engine.root / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {engine.root / 'registry'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = engine.root / "registry.log"
    engine.registry_proc = subprocess.Popen(
        _dying(["docker-registry", "serve", str(config)]), stdout=log.open("wb"), stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    engine.registry = f"127.0.0.1:{port}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://{engine.registry}/v2/", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    _wait_for("docker-registry", ready, engine.registry_proc, log)


def _import_bases(engine: Engine, manifest: dict, cache: Path, only: Optional[Sequence[str]]) -> None:
    for entry in manifest["images"]:
        if only is not None and entry["name"] not in only:
            continue
        args = ["import"]
        for change in entry.get("changes", []):
            args += ["--change", change]
        engine.docker(*args, str(cache / entry["file"]), entry["tag"], timeout=300)
        engine.bases[entry["name"]] = entry["tag"]
        if entry["name"] == "debian":
            engine.python = entry["python"]
            # the name Image.from_debian_base() builds FROM: this engine's stand-in for the official image
            engine.docker("tag", entry["tag"], f"python:{entry['python']}-slim-bookworm")
