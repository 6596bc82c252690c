"""Object-store settings for `flyte.storage` (Flyte 2's `Storage`, `S3`, `GCS`, `ABFS`)."""

from __future__ import annotations

import dataclasses
import datetime
import os
from typing import Any, Optional


@dataclasses.dataclass
class Storage:
    """Settings every store shares; `get_fsspec_kwargs()` is what the fsspec filesystem is made with."""

    retries: int = 3
    backoff: datetime.timedelta = datetime.timedelta(seconds=5)
    enable_debug: bool = False
    attach_execution_metadata: bool = True

    def get_fsspec_kwargs(self, anonymous: bool = False, **kwargs: Any) -> dict[str, Any]:
        return dict(kwargs)

    @classmethod
    def auto(cls) -> "Storage":
        return cls()


@dataclasses.dataclass
class S3(Storage):
    """S3 or an S3-compatible store (MinIO): endpoint, keys and region, else the usual AWS_* variables."""

    endpoint: Optional[str] = None
    access_key_id: Optional[str] = None
    secret_access_key: Optional[str] = None
    region: Optional[str] = None
    addressing_style: Optional[str] = None

    @classmethod
    def auto(cls, region: Optional[str] = None) -> "S3":
        return cls(endpoint=os.environ.get("FLYTE_AWS_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL"),
                   access_key_id=os.environ.get("FLYTE_AWS_ACCESS_KEY_ID") or os.environ.get("AWS_ACCESS_KEY_ID"),
                   secret_access_key=(os.environ.get("FLYTE_AWS_SECRET_ACCESS_KEY")
                                      or os.environ.get("AWS_SECRET_ACCESS_KEY")),
                   region=region or os.environ.get("AWS_REGION"))

    @classmethod
    def for_sandbox(cls) -> "S3":
        return cls(endpoint="http://localhost:4566", access_key_id="minio", secret_access_key="miniostorage")

    def get_fsspec_kwargs(self, anonymous: bool = False, **kwargs: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if anonymous:
            out["anon"] = True
        if self.access_key_id:
            out["key"] = self.access_key_id
        if self.secret_access_key:
            out["secret"] = self.secret_access_key
        client: dict[str, Any] = {}
        if self.endpoint:
            client["endpoint_url"] = self.endpoint
        if self.region:
            client["region_name"] = self.region
        if client:
            out["client_kwargs"] = client
        if self.addressing_style:
            out["config_kwargs"] = {"s3": {"addressing_style": self.addressing_style}}
        out.update(kwargs)
        return out


@dataclasses.dataclass
class GCS(Storage):
    """Google Cloud Storage (credentials from the environment, as gcsfs finds them)."""

    gsutil_parallelism: bool = False

    def get_fsspec_kwargs(self, anonymous: bool = False, **kwargs: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"token": "anon"} if anonymous else {}
        out.update(kwargs)
        return out


@dataclasses.dataclass
class ABFS(Storage):
    """Azure Blob Storage / ADLS."""

    account_name: Optional[str] = None
    account_key: Optional[str] = None
    tenant_id: Optional[str] = None
    client_id: Optional[str] = None
    client_secret: Optional[str] = None

    def get_fsspec_kwargs(self, anonymous: bool = False, **kwargs: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"anon": True} if anonymous else {}
        for key in ("account_name", "account_key", "tenant_id", "client_id", "client_secret"):
            value = getattr(self, key)
            if value:
                out[key] = value
        out.update(kwargs)
        return out


_PROTOCOLS = {"s3": S3, "s3a": S3, "gs": GCS, "gcs": GCS, "abfs": ABFS, "abfss": ABFS}


def configure(storage: Optional[Storage]) -> None:
    """Use these settings for the matching protocol (`flyte.init(storage=...)` does the same)."""
    from flyte_jupyter import _config

    if storage is not None and not isinstance(storage, Storage):
        raise TypeError(f"storage= takes flyte.storage.S3, GCS or ABFS, not {type(storage).__name__}")
    _config.current().storage = storage


def configured(protocol: Optional[str]) -> Optional[Storage]:
    """The configured settings if they are for `protocol`."""
    from flyte_jupyter import _config

    settings: Optional[Storage] = getattr(_config.current(), "storage", None)
    cls = _PROTOCOLS.get((protocol or "").lower())
    if settings is not None and cls is not None and isinstance(settings, cls):
        return settings
    return None
