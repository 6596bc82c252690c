"""Checks the run and queue services make before they store anything.

Each check raises `Invalid` with a message that names the problem and the fix; the services turn it
into INVALID_ARGUMENT. Resource checks use Flyte's own wording so that people and tools that know
Flyte recognise them.
"""

from __future__ import annotations

import re

from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.quantities import format_memory, parse_cpu, parse_memory

MAX_INLINE_INPUTS = 10 * 1024 * 1024
MAX_SPEC_BYTES = 1024 * 1024

_RUN_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_PROJECT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_ACTION_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_TASK_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,254}$")
_VERSION = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")

# Resource name as Flyte prints it in limit messages.
_RESOURCE_WORD = {"cpu": "CPU", "memory": "MEMORY", "gpu": "GPU", "disk": "EPHEMERAL_STORAGE"}


class Invalid(Exception):
    """A request that must be refused with INVALID_ARGUMENT."""


def check_run_name(name: str) -> None:
    if not _RUN_NAME.match(name):
        raise Invalid(
            f"run name {name!r} is invalid: use 1-63 lowercase letters, digits and '-', starting with a letter"
        )


def check_project_domain(project: str, domain: str) -> None:
    for what, value in (("project", project), ("domain", domain)):
        if not _PROJECT.match(value or ""):
            raise Invalid(f"{what} {value!r} is invalid: use 1-63 lowercase letters, digits, '-' and '_'")


def check_action_name(name: str) -> None:
    if not _ACTION_NAME.match(name):
        raise Invalid(f"action name {name!r} is invalid: use 1-63 lowercase letters, digits and '-'")


def check_task_spec(spec: pb.TaskSpec) -> None:
    if not _TASK_NAME.match(spec.id.name):
        raise Invalid(f"task name {spec.id.name!r} is invalid: use letters, digits, '_', '.' and '-' (max 255)")
    if not _VERSION.match(spec.id.version):
        raise Invalid(
            f"task version {spec.id.version!r} is invalid: use 1-128 letters, digits, '_', '.' and '-'"
        )
    size = spec.ByteSize()
    if size > MAX_SPEC_BYTES:
        raise Invalid(f"task spec of {spec.id.name} is {size} bytes, over the {MAX_SPEC_BYTES} byte limit; "
                      "keep large data out of env vars and plugin config")
    if spec.retries.count < 0:
        raise Invalid(f"task {spec.id.name} asks for {spec.retries.count} retries; use 0 or more")
    if spec.timeout_seconds < 0:
        raise Invalid(f"task {spec.id.name} has a negative timeout; use seconds > 0, or 0 for none")
    if not spec.args:
        raise Invalid(f"task {spec.id.name} has no entrypoint arguments; build specs with the flyte_jupyter SDK")


def check_inputs_size(data: bytes) -> None:
    if len(data) > MAX_INLINE_INPUTS:
        raise Invalid(
            f"inputs are {len(data) / 2**20:.1f} MiB, over the {MAX_INLINE_INPUTS // 2**20} MiB inline limit; "
            "pass large values as flyte.io.File/Dir or let the SDK offload them to storage"
        )


def _amount(kind: str, value: str) -> float:
    if kind == "cpu":
        return parse_cpu(value) or 0.0
    if kind == "gpu":
        return float(value)
    return float(parse_memory(value) or 0)


def check_resources(spec: pb.TaskSpec, limits: dict[str, str]) -> None:
    """Refuse a request over a platform limit, in Flyte's words:
    "Requested MEMORY limit [4Gi] is greater than current limit set in the platform configuration [1Gi]"."""
    for kind in ("cpu", "memory", "gpu", "disk"):
        requested = getattr(spec.resources, kind)
        limit = limits.get(kind)
        if not requested:
            continue
        try:
            amount = _amount(kind, requested)
        except ValueError as exc:
            raise Invalid(f"task {spec.id.name}: {exc}") from None
        if not limit:
            continue
        if amount > _amount(kind, limit):
            raise Invalid(
                f"Requested {_RESOURCE_WORD[kind]} limit [{requested}] is greater than current limit set in "
                f"the platform configuration [{limit}]"
            )


def normalize_limits(limits: dict[str, str]) -> dict[str, str]:
    """Check a limits mapping (as `admin limits set` sends it) and return it with string values."""
    out: dict[str, str] = {}
    for kind, value in limits.items():
        if kind not in _RESOURCE_WORD:
            raise Invalid(f"unknown resource {kind!r} in limits; use cpu, memory, gpu or disk")
        if value in (None, ""):
            continue
        text = str(value)
        try:
            _amount(kind, text)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        out[kind] = text
    return out


__all__ = ["Invalid", "check_resources", "format_memory"]
