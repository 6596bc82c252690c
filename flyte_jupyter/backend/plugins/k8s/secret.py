"""Secret env vars of action pods: kept in a Kubernetes Secret, referenced by ``secretKeyRef``.

Why: each attempt's credential reaches it as ``FLYTE_JUPYTER_TOKEN`` in ``LaunchSpec.env``. Put in
the pod's env as a value it would be readable by anyone who may read pods or TaskActions (``kubectl
get pod -o yaml``), and copied into events and logs. Instead the executor writes the value into one
Secret per action namespace (created or updated on first use, labelled as the executor's) and the
pod's env only names the Secret and key; the kubelet resolves it when the container starts.

The backend gives actions a credential of their own run (``fjr1.…``, see
``backend/services/auth.py``), never its admin token. Each run's credential has a key of its own in
the Secret (``token-<digest>``), so the pods of many runs share the Secret without one run's pods
reading another's credential: `merged` adds a run's key to what the Secret holds and drops keys of
credentials that have expired, and values that are not run credentials (the old single ``token``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

from flyte_jupyter.backend.plugins.k8s import names as n
from flyte_jupyter.backend.plugins.k8s.config import K8sSettings

#: Env vars that never appear as values in a pod or TaskAction: env name -> key in the Secret.
SECRET_ENV: dict[str, str] = {"FLYTE_JUPYTER_TOKEN": "token"}

DEFAULT_NAME = "flyte-jupyter-token"


def secret_name(settings: K8sSettings) -> str:
    """The Secret's name in every action namespace (see ``K8sSettings.token_secret_name``)."""
    if settings.token_secret_name:
        return settings.token_secret_name
    if settings.instance == "default":
        return DEFAULT_NAME
    return n.dns_label(f"{DEFAULT_NAME}-{settings.instance}", max_len=253)


#: How run credentials begin (``backend/services/auth.py`` mints them).
CREDENTIAL_PREFIX = "fjr1."


def is_credential(value: str) -> bool:
    return value.startswith(CREDENTIAL_PREFIX)


def secret_key(base: str, value: str) -> str:
    """The Secret key of one value: ``base`` for a plain value, ``base-<digest>`` for a run
    credential (one key per run: the same run, the same credential, the same key)."""
    if is_credential(value):
        return f"{base}-{hashlib.sha256(value.encode()).hexdigest()[:40]}"
    return base


def _owner(key: str) -> str | None:
    """The env var a Secret key belongs to (None: not one of ours)."""
    for name, base in SECRET_ENV.items():
        if key == base or key.startswith(base + "-"):
            return name
    return None


def split_env(env: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(plain env, secret values by Secret key); an empty secret value is dropped, not stored."""
    plain: dict[str, str] = {}
    secret: dict[str, str] = {}
    for name, value in env.items():
        base = SECRET_ENV.get(name)
        if base is None:
            plain[name] = value
        elif value:
            secret[secret_key(base, str(value))] = str(value)
    return plain, secret


def env_refs(secret: str, keys: dict[str, str]) -> list[dict[str, Any]]:
    """Pod env entries that read ``keys`` (Secret keys, as `split_env` returns them) from the Secret
    ``secret``."""
    return [{"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
            for key in sorted(keys) for name in [_owner(key)] if name is not None]


def credential_expiry(value: str) -> int:
    """When a run credential expires (epoch seconds; 0: never or unknown). Read without checking
    the signature: only used to forget values, never to trust them."""
    try:
        body = value[len(CREDENTIAL_PREFIX):].split(".", 1)[0]
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return int(payload.get("e") or 0)
    except (ValueError, TypeError, AttributeError):
        return 0


def merged(current: dict[str, str], new: dict[str, str], now: float | None = None) -> dict[str, str]:
    """What the Secret should hold after adding ``new``: the run credentials it holds that are still
    valid (pods of other runs may not have started yet), plus ``new``. Plain values (not run
    credentials) are replaced, not kept: a stale admin token does not linger."""
    now = time.time() if now is None else now
    keep: dict[str, str] = {}
    for key, value in current.items():
        name = _owner(key)
        if name is None or not is_credential(value) or key != secret_key(SECRET_ENV[name], value):
            continue
        if 0 < credential_expiry(value) < now:
            continue
        keep[key] = value
    return {**keep, **new}


def holds(current: dict[str, str] | None, new: dict[str, str]) -> bool:
    """True when a Secret holding ``current`` already has every key and value of ``new``."""
    return current is not None and all(current.get(k) == v for k, v in new.items())


def secret_body(name: str, namespace: str, data: dict[str, str], settings: K8sSettings) -> dict[str, Any]:
    """The Secret manifest (``data`` base64-encoded, as the API stores it)."""
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {n.MANAGED_BY: n.MANAGER, n.L_INSTANCE: n.label_value(settings.instance)}},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in sorted(data.items())},
    }


def decoded(secret: Any) -> dict[str, str]:
    """The data of a Secret read back from the API (a V1Secret or a dict), decoded."""
    data = secret.get("data") if isinstance(secret, dict) else getattr(secret, "data", None)
    return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (data or {}).items()}
