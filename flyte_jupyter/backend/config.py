"""Backend configuration: command-line flags over an optional YAML file over defaults.

YAML keys (all optional): host, port, executor ("local" | "docker" | "kubernetes" | "module:factory"),
executor_config (dict for the plugin), max_parallelism (an upper bound on the actions running at
once; default none but the capacity), capacity ({cpu, memory}: what the running actions' requests may
add up to, as a Kubernetes node's allocatable; default the machine's cores and memory),
default_requests ({cpu, memory}: the request of a task that asks for nothing and whose project and
domain set no default; default cpu 50m (half Flyte's sandbox default) and memory 200Mi), storage_root (fsspec URI for data;
default file://DIR/data), endpoint_for_actions (how actions dial back, default the bound address),
tls_cert, tls_key, limits ({cpu, memory, gpu, disk}: the default platform limits; default the
machine's own cores and memory), run_credential_ttl (seconds a run's actions may call back at most,
counted from the run's creation; default 7 days, 0 = until the run ends however long it takes),
store ({url: postgresql://user@host:5432/db | sqlite:///path}: where state lives; default SQLite in
DIR/state.db; the schema is migrated at start, see `store/schema.py`), storage ({root: s3://bucket/prefix,
options: {endpoint_url, key, secret, ...}}: the object store for bundles, inputs, outputs and logs;
`root` is `storage_root`, `options` the fsspec filesystem's, handed to every process the backend
starts and to clients in client.yaml; credentials may also come from the environment as the fsspec
package reads it, e.g. AWS_ACCESS_KEY_ID for s3fs), replica_endpoint (with a PostgreSQL store, replicas
forward calls about runs they do not drive to the owner at this address; default the bound address,
or $FLYTE_JUPYTER_REPLICA_ENDPOINT, e.g. the pod's IP).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8090


#: Flyte's sandbox defaults: what a task that requests nothing is admitted with.
# Half of Flyte's sandbox CPU default (100m): thirty default actions then fit on a two-core machine at
# once, as they would on the cluster a user pictures, while a task asking for a core still gets one.
DEFAULT_REQUESTS = {"cpu": "50m", "memory": "200Mi"}


def _quantities(key: str, value: Any) -> dict[str, str]:
    """A {cpu, memory} mapping of backend.yaml, checked: SystemExit naming the key and the fix."""
    from flyte_jupyter._internal.wire.quantities import parse_cpu, parse_memory

    example = f"{key}: {{cpu: 2, memory: 16Gi}}"
    if not isinstance(value, dict) or set(value) - {"cpu", "memory"}:
        raise SystemExit(f"backend config: {key} must be a mapping with cpu and/or memory, e.g. {example}; "
                         f"got {value!r}")
    out: dict[str, str] = {}
    for kind, parse in (("cpu", parse_cpu), ("memory", parse_memory)):
        if value.get(kind) in (None, ""):
            continue
        text = str(value[kind])
        try:
            amount = parse(text)
        except ValueError as exc:
            raise SystemExit(f"backend config: {key}: {exc}") from None
        if amount is None or amount < 0 or (key == "capacity" and amount == 0):
            raise SystemExit(f"backend config: {key}: {kind} {text!r} must be more than 0, e.g. {example}")
        out[kind] = text
    return out


def _machine_limits() -> dict[str, str]:
    cores = os.cpu_count() or 1
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        pages = 0
    limits = {"cpu": str(cores)}
    if pages:
        limits["memory"] = f"{pages // (1 << 20)}Mi"
    return limits


@dataclasses.dataclass
class BackendConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    executor: str = "local"
    executor_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    max_parallelism: int = 0  # 0 = no bound on running actions but the capacity
    storage_root: str = ""
    endpoint_for_actions: str = ""
    tls_cert: str | None = None
    tls_key: str | None = None
    limits: dict[str, str] = dataclasses.field(default_factory=_machine_limits)
    capacity: dict[str, str] = dataclasses.field(default_factory=dict)  # {} = the machine's (admission)
    default_requests: dict[str, str] = dataclasses.field(default_factory=lambda: dict(DEFAULT_REQUESTS))
    project: str = "default"
    domain: str = "development"
    run_credential_ttl: float = 7 * 86400.0
    store: dict[str, Any] = dataclasses.field(default_factory=dict)
    storage: dict[str, Any] = dataclasses.field(default_factory=dict)
    replica_endpoint: str = ""  # with replicas: how the others reach this one (default the bound address)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        if self.max_parallelism < 0:
            raise SystemExit(f"backend config: max_parallelism must be 0 (no bound but the capacity) or more, "
                             f"got {self.max_parallelism}")
        self.capacity = {**_machine_limits(), **_quantities("capacity", self.capacity)}
        self.default_requests = {**DEFAULT_REQUESTS, **_quantities("default_requests", self.default_requests)}
        if not isinstance(self.store, dict) or set(self.store) - {"url"} or not isinstance(self.store.get("url", ""), str):
            raise SystemExit(f"backend config: store must be a mapping {{url: postgresql://user@host:5432/db}}, "
                             f"got {self.store!r}")
        storage = self.storage
        if (not isinstance(storage, dict) or set(storage) - {"root", "options"}
                or not isinstance(storage.get("root", ""), str) or not isinstance(storage.get("options", {}), dict)):
            raise SystemExit("backend config: storage must be a mapping {root: s3://bucket/prefix, options: "
                             f"{{endpoint_url: ..., key: ..., secret: ...}}}}, got {storage!r}")
        if storage.get("root"):
            if self.storage_root and self.storage_root != storage["root"]:
                raise SystemExit(f"backend config: storage_root {self.storage_root!r} and storage.root "
                                 f"{storage['root']!r} disagree; keep one")
            self.storage_root = storage["root"]
        if not self.storage_root:
            self.storage_root = (self.data_dir / "data").as_uri()

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert and self.tls_key)

    @property
    def loopback(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1")

    @property
    def db_path(self) -> Path:
        return self.data_dir / "state.db"

    @property
    def store_url(self) -> str:
        """The state database's URL ("" = SQLite at `db_path`)."""
        return str(self.store.get("url", ""))

    @property
    def storage_protocol(self) -> str:
        head, sep, _ = self.storage_root.partition("://")
        return head.lower() if sep else "file"

    @property
    def storage_options(self) -> dict[str, dict[str, Any]]:
        """{protocol: fsspec options} of the storage root ({} when none are configured)."""
        options = self.storage.get("options") or {}
        return {self.storage_protocol: dict(options)} if options else {}

    @property
    def token_path(self) -> Path:
        return self.data_dir / "token"

    @property
    def client_yaml(self) -> Path:
        return self.data_dir / "client.yaml"

    @property
    def pid_path(self) -> Path:
        return self.data_dir / "backend.pid"


def load_backend_config(data_dir: str | Path, file: str | None = None, **flags: Any) -> BackendConfig:
    """Defaults, then the YAML file (if any), then flags that were given (not None)."""
    values: dict[str, Any] = {}
    if file:
        import yaml

        with open(file) as fh:
            loaded = yaml.safe_load(fh) or {}
        if not isinstance(loaded, dict):
            raise SystemExit(f"backend config {file} must be a YAML mapping")
        values.update(loaded)
    values.update({k: v for k, v in flags.items() if v is not None})
    known = {f.name for f in dataclasses.fields(BackendConfig)}
    unknown = set(values) - known
    if unknown:
        raise SystemExit(f"backend config has unknown keys {sorted(unknown)}; known keys: {sorted(known)}")
    values["data_dir"] = data_dir
    return BackendConfig(**values)
