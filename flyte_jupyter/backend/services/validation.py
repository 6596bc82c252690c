"""Checks the run and queue services make before they store anything.

Each check raises `Invalid` with a message that names the problem and the fix; the services turn it
into INVALID_ARGUMENT. Resource checks use Flyte's own wording so that people and tools that know
Flyte recognise them.

Every pattern is matched whole (`re.fullmatch`): a `$`-anchored `re.match` lets a trailing newline
through ("run\\n" would then share a storage folder with "run"). Every number is checked finite
and in range (NaN passes every `<` comparison). Whatever reaches a process's environment or command
line is checked for the bytes exec refuses (NUL, and `=` in a variable's name), so a bad request is
refused now instead of failing at launch.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from typing import Iterable, Mapping

from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import literals_pb2
from flyte_jupyter._internal.wire.quantities import format_memory, parse_cpu, parse_memory

MAX_INLINE_INPUTS = 10 * 1024 * 1024
MAX_SPEC_BYTES = 1024 * 1024
MAX_RETRIES = 1000
MAX_SECONDS = 10 * 365 * 86400.0  # timeouts, backoffs and idle times: ten years at most
MAX_REPLICAS = 1024
MAX_URI = 4096

_RUN_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
_PROJECT = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_ACTION_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_TASK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,254}")
_VERSION = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
_TASK_TYPE = re.compile(r"[A-Za-z0-9_.\-]{0,63}")
_URI_SEGMENT = re.compile(r"[A-Za-z0-9_.\-]{1,255}")

# Resource name as Flyte prints it in limit messages.
_RESOURCE_WORD = {"cpu": "CPU", "memory": "MEMORY", "gpu": "GPU", "disk": "EPHEMERAL_STORAGE"}


class Invalid(Exception):
    """A request that must be refused with INVALID_ARGUMENT."""


def check_run_name(name: str) -> None:
    if not _RUN_NAME.fullmatch(name):
        raise Invalid(
            f"run name {name!r} is invalid: use 1-63 lowercase letters, digits and '-', starting with a letter"
        )


def check_project_domain(project: str, domain: str) -> None:
    for what, value in (("project", project), ("domain", domain)):
        if not _PROJECT.fullmatch(value or ""):
            raise Invalid(f"{what} {value!r} is invalid: use 1-63 lowercase letters, digits, '-' and '_'")


def check_action_name(name: str) -> None:
    if not _ACTION_NAME.fullmatch(name):
        raise Invalid(f"action name {name!r} is invalid: use 1-63 lowercase letters, digits and '-'")


def _seconds(task: str, what: str, value: float, fix: str) -> None:
    if not math.isfinite(value) or value < 0 or value > MAX_SECONDS:
        raise Invalid(f"task {task} has {what} of {value!r} seconds; {fix}")


def check_env(what: str, env: Mapping[str, str]) -> None:
    """Names and values a process environment can hold: a name is not empty and has neither '='
    nor NUL; a value has no NUL."""
    for key, value in env.items():
        if not key or "=" in key or "\0" in key:
            raise Invalid(f"{what} has the environment variable name {key!r}; a name must be non-empty, "
                          "without '=' or NUL")
        if "\0" in value:
            raise Invalid(f"{what}: the value of environment variable {key!r} contains a NUL byte")


def _no_nul(what: str, values: Iterable[str]) -> None:
    for value in values:
        if "\0" in value:
            raise Invalid(f"{what} contains a NUL byte: {value[:80]!r}")


def _check_custom(name: str, text: str) -> None:
    if not text:
        return
    try:
        custom = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise Invalid(f"task {name} has plugin config (custom_json) that is not JSON: {exc}") from None
    if not isinstance(custom, dict):
        raise Invalid(f"task {name} has plugin config (custom_json) that is not a JSON object")
    template = custom.get("pod_template")
    if template is not None and not isinstance(template, dict):
        raise Invalid(f"task {name}: plugin config pod_template must be an object, not {type(template).__name__}")


def check_task_spec(spec: pb.TaskSpec) -> None:
    name = spec.id.name
    if not _TASK_NAME.fullmatch(name):
        raise Invalid(f"task name {name!r} is invalid: use letters, digits, '_', '.' and '-' (max 255)")
    if not _VERSION.fullmatch(spec.id.version):
        raise Invalid(
            f"task version {spec.id.version!r} is invalid: use 1-128 letters, digits, '_', '.' and '-'"
        )
    size = spec.ByteSize()
    if size > MAX_SPEC_BYTES:
        raise Invalid(f"task spec of {name} is {size} bytes, over the {MAX_SPEC_BYTES} byte limit; "
                      "keep large data out of env vars and plugin config")
    if not _TASK_TYPE.fullmatch(spec.type):
        raise Invalid(f"task {name} has the type {spec.type!r}; use letters, digits, '_', '.' and '-'")
    r = spec.retries
    if r.count < 0 or r.count > MAX_RETRIES:
        raise Invalid(f"task {name} asks for {r.count} retries; use 0 to {MAX_RETRIES}")
    _seconds(name, "a timeout", spec.timeout_seconds, "use seconds > 0, or 0 for none (at most ten years)")
    _seconds(name, "a max queued time", spec.max_queued_seconds, "use seconds > 0, or 0 for none")
    _seconds(name, "a retry backoff", r.backoff_seconds, "use seconds >= 0")
    _seconds(name, "a max retry backoff", r.max_backoff_seconds, "use seconds >= 0")
    if not math.isfinite(r.backoff_factor) or r.backoff_factor < 0:
        raise Invalid(f"task {name} has a retry backoff factor of {r.backoff_factor!r}; use a number >= 1")
    if r.backoff_seconds and r.count > 1:
        try:  # what the executor computes for the last retry's delay
            r.backoff_seconds * (r.backoff_factor or 2.0) ** (r.count - 1)
        except OverflowError:
            raise Invalid(f"task {name}: a backoff factor of {r.backoff_factor!r} over {r.count} retries grows "
                          "beyond any number; use a smaller factor or fewer retries") from None
    if spec.HasField("reuse"):
        u = spec.reuse
        if not 0 <= u.replicas <= MAX_REPLICAS or u.concurrency < 0:
            raise Invalid(f"task {name} asks for {u.replicas} reusable replicas with concurrency {u.concurrency}; "
                          f"use 0 to {MAX_REPLICAS} replicas and a concurrency >= 0")
        _seconds(name, "a reuse idle time", u.idle_ttl_seconds, "use seconds >= 0")
    if not spec.args:
        raise Invalid(f"task {name} has no entrypoint arguments; build specs with the flyte_jupyter SDK")
    _no_nul(f"an entrypoint argument of task {name}", spec.args)
    _no_nul(f"the image of task {name}", [spec.image])
    check_env(f"task {name}", spec.env)
    _check_custom(name, spec.custom_json)
    check_secret_requests(spec)


def check_inputs_size(data: bytes) -> None:
    if len(data) > MAX_INLINE_INPUTS:
        raise Invalid(
            f"inputs are {len(data) / 2**20:.1f} MiB, over the {MAX_INLINE_INPUTS // 2**20} MiB inline limit; "
            "pass large values as flyte.io.File/Dir or let the SDK offload them to storage"
        )


def check_inputs(data: bytes) -> None:
    """Inline inputs: within the size limit and a serialized LiteralMap (what the entrypoint reads)."""
    check_inputs_size(data)
    try:
        literals_pb2.LiteralMap().ParseFromString(data)
    except Exception:  # noqa: BLE001 - DecodeError, or RecursionError on deep nesting
        raise Invalid(f"inputs ({len(data)} bytes) are not a serialized LiteralMap; encode them with the "
                      "flyte_jupyter SDK") from None


def run_prefix(storage_root: str, project: str, domain: str, run: str) -> str:
    """runs/P/D/RUN/: where everything of one run lives in storage."""
    return _storage.join(storage_root, "runs", project, domain, run) + "/"


def check_inputs_uri(uri: str, storage_root: str, project: str, domain: str, run: str) -> None:
    """Inputs already in storage must be inside the run's own folder of the backend's storage root
    (runs/P/D/RUN/...), named plainly: no '.' or '..' segments, no escapes, and (for local storage)
    no symlink leading out of it."""
    prefix = run_prefix(storage_root, project, domain, run)
    refusal = (f"inputs_uri {uri[:200]!r} is not inside this run's storage folder {prefix}; pass the inputs "
               "inline, or write them under that folder")
    if len(uri) > MAX_URI or not uri.startswith(prefix):
        raise Invalid(refusal)
    rest = uri[len(prefix):]
    if not all(_URI_SEGMENT.fullmatch(seg) and seg not in (".", "..") for seg in rest.split("/")):
        raise Invalid(refusal)
    if _storage.is_local(uri):
        try:
            base = _real_folder(_storage.local_path(prefix))
            if not _stays_inside(base, rest.split("/")):
                raise Invalid(refusal)
        except (ValueError, OSError):
            raise Invalid(refusal) from None


@functools.lru_cache(maxsize=256)
def _real_folder(path: str) -> str:
    """Where a run's storage folder really is (its own path, resolved once per run: a fan-out's
    thousand children would otherwise each resolve every component of the storage root)."""
    return os.path.realpath(path).rstrip("/")


def _stays_inside(base: str, segments: list[str]) -> bool:
    """Whether the plain path `segments` under the real folder `base` stays inside it: each
    component below it is looked at (a symlink is followed and must land inside)."""
    path = base
    for seg in segments:
        path = os.path.join(path, seg)
        if os.path.islink(path):
            path = os.path.realpath(path)
            if not path.startswith(base + "/"):
                return False
    return True


# -- secrets a task declares (issue 19) -------------------------------------------------------------

MAX_SECRETS = 64  # per task


def check_secret_requests(spec: pb.TaskSpec) -> None:
    """A spec's secrets: valid names and env var names, a sane mount path, at most MAX_SECRETS."""
    from flyte_jupyter._internal.runtime.secret_names import env_var_for, stored_name

    name = spec.id.name
    if len(spec.secrets) > MAX_SECRETS:
        raise Invalid(f"task {name} declares {len(spec.secrets)} secrets, more than {MAX_SECRETS}")
    for req in spec.secrets:
        try:
            stored_name(req.key, req.group or None)
            env_var_for(req.key, req.group or None, req.as_env_var or None)
        except ValueError as exc:
            raise Invalid(f"task {name}: {exc}") from None
        mount = req.mount
        if len(mount) > 1024 or any(ord(c) < 32 for c in mount) or ".." in mount.split("/"):
            raise Invalid(f"task {name}: the mount path {mount[:80]!r} of secret {req.key!r} is not a plain path; "
                          "use e.g. /etc/flyte/secrets")


def check_request_strings(what: str, env_vars: Mapping[str, str], raw_data_path: str) -> None:
    """What a CreateRun request adds to every action's environment and command line."""
    check_env(what, env_vars)
    _no_nul(f"the raw data path of {what}", [raw_data_path])
    if len(raw_data_path) > MAX_URI:
        raise Invalid(f"the raw data path of {what} is longer than {MAX_URI} characters")


def _amount(kind: str, value: str) -> float:
    try:
        if kind == "cpu":
            amount = parse_cpu(value) or 0.0
        elif kind == "gpu":
            amount = float(value)
            if math.isfinite(amount) and amount >= 0 and not amount.is_integer():
                raise ValueError(f"gpu {value!r} is not a whole number of GPUs; use e.g. 1 or 2")
        else:
            amount = float(parse_memory(value) or 0)
    except OverflowError:
        raise ValueError(f"{kind} {value!r} is too large to be a quantity") from None
    if not math.isfinite(amount) or amount < 0:
        raise ValueError(f"{kind} {value!r} is not a quantity: use a finite number of 0 or more")
    return amount


def check_resources(spec: pb.TaskSpec, limits: dict[str, str]) -> None:
    """Refuse a request over a platform limit, in Flyte's words:
    "Requested MEMORY limit [4Gi] is greater than current limit set in the platform configuration [1Gi]",
    and a request (`spec.requests`) that is not a quantity or is above the task's own limit."""
    for kind in ("cpu", "memory", "gpu", "disk"):
        requested = getattr(spec.resources, kind)
        asked = getattr(spec.requests, kind)
        limit = limits.get(kind)
        try:
            amount = _amount(kind, requested) if requested else None
            ask = _amount(kind, asked) if asked else None
        except ValueError as exc:
            raise Invalid(f"task {spec.id.name}: {exc}") from None
        if ask is not None and amount is not None and ask > amount:
            raise Invalid(f"task {spec.id.name}: the {kind} request [{asked}] is more than its limit [{requested}]; "
                          f"a request is at most the limit (Resources({kind}=(request, limit)))")
        if not limit or (amount is None and ask is None):
            continue
        if amount is None:  # a request with no limit of its own (no cap, as on Kubernetes)
            if ask is not None and ask > _amount(kind, limit):
                raise Invalid(f"Requested {_RESOURCE_WORD[kind]} request [{asked}] is greater than current limit set "
                              f"in the platform configuration [{limit}]")
            continue
        if amount > _amount(kind, limit):
            raise Invalid(
                f"Requested {_RESOURCE_WORD[kind]} limit [{requested}] is greater than current limit set in "
                f"the platform configuration [{limit}]"
            )


def normalize_limits(limits: dict[str, str], what: str = "limits") -> dict[str, str]:
    """Check a limits (or defaults, `what`) mapping, as `admin limits set` and `admin
    resource-attributes update` send it, and return it with string values."""
    out: dict[str, str] = {}
    for kind, value in limits.items():
        if kind not in _RESOURCE_WORD:
            raise Invalid(f"unknown resource {kind!r} in {what}; use cpu, memory, gpu or disk")
        if value in (None, ""):
            continue
        text = str(value)
        if len(text) > 64 or "\0" in text:
            raise Invalid(f"{what}: {kind} {text[:64]!r} is not a quantity: use e.g. 2, '500m', '1Gi'")
        try:
            _amount(kind, text)
        except ValueError as exc:
            raise Invalid(f"{what}: {exc}") from None
        out[kind] = text
    return out


def check_defaults_within(defaults: dict[str, str], limits: dict[str, str]) -> None:
    """Refuse a default over the limit in effect for the same resource (a task that requests
    nothing would then be refused at every run)."""
    for kind, value in defaults.items():
        limit = limits.get(kind)
        if limit and _amount(kind, value) > _amount(kind, limit):
            raise Invalid(f"the default {_RESOURCE_WORD[kind]} [{value}] is greater than its limit [{limit}]; "
                          "lower the default or raise the limit")


__all__ = ["Invalid", "check_resources", "format_memory"]
