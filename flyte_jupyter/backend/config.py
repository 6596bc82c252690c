"""Backend configuration: command-line flags over an optional YAML file over defaults.

YAML keys (all optional): host, port, executor ("local" | "docker" | "kubernetes" | "module:factory"),
executor_config (dict for the plugin), max_parallelism, storage_root (fsspec URI for data;
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
    max_parallelism: int = 0  # 0 = the core count
    storage_root: str = ""
    endpoint_for_actions: str = ""
    tls_cert: str | None = None
    tls_key: str | None = None
    limits: dict[str, str] = dataclasses.field(default_factory=_machine_limits)
    project: str = "default"
    domain: str = "development"
    run_credential_ttl: float = 7 * 86400.0
    store: dict[str, Any] = dataclasses.field(default_factory=dict)
    storage: dict[str, Any] = dataclasses.field(default_factory=dict)
    replica_endpoint: str = ""  # with replicas: how the others reach this one (default the bound address)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        if not self.max_parallelism:
            self.max_parallelism = os.cpu_count() or 1
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
