"""Client configuration: local mode unless an endpoint is configured.

Config files are YAML. Keys: `endpoint` (host:port), `api_key` (or `token`), `project`, `domain`,
`insecure` (plaintext gRPC, the embedded backend's default on loopback), `ca_cert`,
`storage_options` ({protocol: fsspec options}: how this client reaches the backend's object store,
e.g. `{s3: {endpoint_url: ..., key: ..., secret: ...}}`; else the environment, as s3fs reads it). Flyte's
`admin: {endpoint: dns:///host:port, insecure: true}` layout is read too.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from flyte_jupyter._internal.runtime.paths import DATA_DIR_ENV, data_dir

CONFIG_ENV = "FLYTE_JUPYTER_CONFIG"
__all__ = ["CONFIG_ENV", "DATA_DIR_ENV", "ClientConfig", "current", "data_dir", "init", "init_from_config", "load_config_file"]

@dataclasses.dataclass
class ClientConfig:
    endpoint: str | None = None
    api_key: str | None = None
    project: str = "default"
    domain: str = "development"
    org: str = ""
    insecure: bool = True
    ca_cert: str | None = None
    root_dir: str | None = None
    raw_data_path: str | None = None
    source: str | None = None  # the file this came from, for messages
    storage: Any = None  # a flyte.storage.S3 / GCS / ABFS: what flyte.storage uses for that protocol
    storage_options: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    @property
    def is_remote(self) -> bool:
        return bool(self.endpoint)


_config: ClientConfig | None = None


def current() -> ClientConfig:
    """The active configuration; local mode when nothing was initialised."""
    global _config
    if _config is None:
        _config = ClientConfig()
    return _config


def init(
    endpoint: str | None = None,
    api_key: str | None = None,
    project: str | None = None,
    domain: str | None = None,
    root_dir: str | Path | None = None,
    insecure: bool | None = None,
    org: str | None = None,
    raw_data_path: str | None = None,
    ca_cert: str | None = None,
    storage: Any = None,
    storage_options: dict[str, dict[str, Any]] | None = None,
    **_ignored: Any,
) -> ClientConfig:
    """Configure the client. With no endpoint, tasks run in local mode, in this process.
    `storage` (a `flyte.storage.S3`, `GCS` or `ABFS`) sets the credentials `flyte.storage` uses;
    Flyte's other options (auth flows, images, ...) are accepted and ignored."""
    global _config
    cfg = ClientConfig(endpoint=_strip_scheme(endpoint) if endpoint else None, api_key=api_key, storage=storage)
    for key, value in (("project", project), ("domain", domain), ("org", org), ("insecure", insecure),
                       ("raw_data_path", raw_data_path), ("ca_cert", ca_cert)):
        if value is not None:
            setattr(cfg, key, value)
    cfg.root_dir = str(root_dir) if root_dir is not None else None
    if storage_options:
        if not isinstance(storage_options, dict) or not all(isinstance(v, dict) for v in storage_options.values()):
            raise ValueError("storage_options must map a protocol to its fsspec options, "
                             "e.g. {'s3': {'endpoint_url': 'http://host:9000'}}")
        cfg.storage_options = {str(k): dict(v) for k, v in storage_options.items()}
    _config = cfg
    return cfg


def _strip_scheme(endpoint: str) -> str:
    for prefix in ("dns:///", "grpc://", "grpcs://", "http://", "https://"):
        if endpoint.startswith(prefix):
            return endpoint[len(prefix):]
    return endpoint


def _find_config(path: str | Path | None) -> Path | None:
    if path is not None:
        p = Path(path).expanduser()
        if not p.exists():
            raise FileNotFoundError(f"config file {p} does not exist; start a backend with "
                                    "`flyte-jupyter backend start` or pass the path of its client.yaml")
        return p
    env = os.environ.get(CONFIG_ENV)
    if env:
        return _find_config(env)
    for candidate in (Path.cwd() / ".flyte" / "config.yaml", Path.home() / ".flyte-jupyter" / "config.yaml"):
        if candidate.exists():
            return candidate
    return None


def load_config_file(path: str | Path) -> dict[str, Any]:
    import yaml

    with open(path) as fh:
        raw = yaml.safe_load(fh) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"config file {path} must hold a YAML mapping, not {type(raw).__name__}")
    admin = raw.get("admin") or {}
    task = raw.get("task") or {}
    return {
        "endpoint": raw.get("endpoint") or admin.get("endpoint"),
        "api_key": raw.get("api_key") or raw.get("token") or admin.get("api_key"),
        "project": raw.get("project") or task.get("project"),
        "domain": raw.get("domain") or task.get("domain"),
        "insecure": raw.get("insecure", admin.get("insecure")),
        "ca_cert": raw.get("ca_cert") or admin.get("ca_cert"),
        "org": raw.get("org") or task.get("org"),
        "storage_options": raw.get("storage_options"),
    }


def init_from_config(path: str | Path | None = None, root_dir: str | Path | None = None, **overrides: Any) -> ClientConfig:
    """Configure from a YAML file (argument, $FLYTE_JUPYTER_CONFIG, ./.flyte/config.yaml,
    ~/.flyte-jupyter/config.yaml); with none found, local mode."""
    found = _find_config(path)
    values = load_config_file(found) if found else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    cfg = init(root_dir=root_dir, **values)
    cfg.source = str(found) if found else None
    return cfg
