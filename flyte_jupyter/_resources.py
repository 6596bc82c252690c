"""Declarative policies a task carries: resources, cache, retries (and their Backoff), timeouts,
reuse, secrets, pod templates.

They follow Flyte 2's constructors and accepted shorthands (an int for retries, seconds or a
timedelta for timeouts, "auto" for cache) so notebooks written for Flyte run unchanged.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Callable, Dict, Literal, Optional, Union, cast

from flyte_jupyter._internal.wire.quantities import parse_cpu, parse_memory

ResourceValue = Union[str, int, float, None, tuple]


_PARSERS: dict[str, Callable[[Any], float | int | None]] = {"cpu": parse_cpu, "memory": parse_memory}


def _check_pair(kind: str, value: tuple, parse: Callable[[Any], float | int | None] | None) -> None:
    """A (request, limit) pair: two quantities, the request not above the limit."""
    if len(value) != 2:
        raise ValueError(f"Resources({kind}={value!r}): a pair is (request, limit), e.g. cpu=('500m', '1') "
                         "or memory=('1Gi', '2Gi')")
    if parse is None:
        return
    request, limit = parse(value[0]), parse(value[1])
    if request is not None and limit is not None and request > limit:
        raise ValueError(f"Resources({kind}={value!r}): the request {value[0]!r} is more than the limit "
                         f"{value[1]!r}; give the smaller quantity first, as (request, limit)")


@dataclasses.dataclass(frozen=True)
class Resources:
    """What one action may use: each kind a quantity (its request and its limit), or a
    (request, limit) pair, as Kubernetes schedules a pod by its request and caps it at its limit."""

    cpu: ResourceValue = None
    memory: ResourceValue = None
    gpu: ResourceValue = None
    disk: ResourceValue = None
    shm: ResourceValue = None

    def __post_init__(self) -> None:
        # Validate eagerly so a typo fails at decoration time, not when the run starts.
        for kind in ("cpu", "memory", "gpu", "disk"):
            value = getattr(self, kind)
            parse = _PARSERS.get(kind)  # a GPU count and a disk size are checked by the backend
            if isinstance(value, tuple):
                _check_pair(kind, value, parse)
            elif parse is not None:
                parse(value)

    @staticmethod
    def _limit(value: ResourceValue) -> Union[str, int, float, None]:
        return value[-1] if isinstance(value, tuple) else value

    def cpu_cores(self) -> float | None:
        return parse_cpu(self._limit(self.cpu))

    def memory_bytes(self) -> int | None:
        return parse_memory(self._limit(self.memory))

    def disk_bytes(self) -> int | None:
        return parse_memory(self._limit(self.disk))


CacheBehavior = Literal["auto", "override", "disable"]


@dataclasses.dataclass(frozen=True)
class Cache:
    """Memoization policy. With behavior "auto" the version is a hash of the function body."""

    behavior: CacheBehavior = "auto"
    version_override: str | None = None
    serialize: bool = False
    ignored_inputs: tuple[str, ...] | str = ()
    salt: str = ""
    policies: tuple | None = None

    def __post_init__(self) -> None:
        if self.behavior not in ("auto", "override", "disable"):
            raise ValueError(f"cache behavior {self.behavior!r} is unknown; use 'auto', 'override' or 'disable'")
        if isinstance(self.ignored_inputs, str):
            object.__setattr__(self, "ignored_inputs", (self.ignored_inputs,))
        if self.behavior == "override" and not self.version_override:
            raise ValueError("Cache(behavior='override') needs version_override='...'")

    @property
    def enabled(self) -> bool:
        return self.behavior != "disable"


def as_cache(value: Union[Cache, str, bool, None]) -> Cache:
    if isinstance(value, Cache):
        return value
    if value is None or value is False:
        return Cache(behavior="disable")
    if value is True:
        return Cache(behavior="auto")
    if value in ("auto", "disable"):
        return Cache(behavior=cast(CacheBehavior, value))
    raise ValueError(f"cache={value!r} is not understood; use 'auto', 'disable' or flyte.Cache(...)")


@dataclasses.dataclass(frozen=True)
class Backoff:
    """Flyte's pacing of retries: the delay before retry n (0-based) is `min(base * factor**n, cap)`.

    `base` is a timedelta or seconds; `factor` 1.0 keeps the delay constant; `cap` is required when
    `factor > 1` (so delays cannot grow without bound)."""

    base: Union[datetime.timedelta, float, int]
    factor: float = 1.0
    cap: Union[datetime.timedelta, float, int, None] = None

    def __post_init__(self) -> None:
        base = _seconds(self.base) or 0.0
        if base < 0:
            raise ValueError(f"Backoff.base must be >= 0, got {self.base}")
        if not isinstance(self.factor, (int, float)) or self.factor != self.factor or self.factor in (
                float("inf"), float("-inf")):
            raise ValueError(f"Backoff.factor must be a finite number, got {self.factor!r}")
        if self.factor < 1.0:
            raise ValueError(f"Backoff.factor must be >= 1.0, got {self.factor}")
        if self.cap is not None and (_seconds(self.cap) or 0.0) < 0:
            raise ValueError(f"Backoff.cap must be >= 0, got {self.cap}")
        if self.factor > 1.0 and self.cap is None:
            raise ValueError("Backoff.cap is required when factor > 1.0, so delays cannot grow without bound")

    @property
    def base_seconds(self) -> float:
        return _seconds(self.base) or 0.0

    @property
    def cap_seconds(self) -> float:
        """The largest delay (the base when there is no cap: a constant delay)."""
        return _seconds(self.cap) if self.cap is not None else self.base_seconds  # type: ignore[return-value]

    def compute_delay(self, n: int) -> datetime.timedelta:
        """The delay before the n-th retry (0-based), as Flyte computes it."""
        if n < 0:
            raise ValueError(f"retry index must be >= 0, got {n}")
        try:
            seconds = self.base_seconds * self.factor ** n
        except OverflowError:
            seconds = self.cap_seconds
        return datetime.timedelta(seconds=min(seconds, self.cap_seconds))


@dataclasses.dataclass(frozen=True)
class RetryStrategy:
    """How often a failed action runs again, and how long to wait between attempts.

    `backoff` is a `flyte.Backoff` (Flyte 2's form: `min(base * factor**n, cap)`), or, as here
    before, the first delay in seconds (or a timedelta) that doubles each time
    (`backoff_factor`), capped at `max_backoff`.
    """

    count: int = 0
    backoff: Union[Backoff, float, datetime.timedelta, None] = None
    backoff_factor: float = 2.0
    max_backoff: float = 300.0

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or isinstance(self.count, bool):
            raise ValueError(f"RetryStrategy.count must be an int (a retry count), got {self.count!r}")
        if self.count < 0:
            raise ValueError(f"retries must be 0 or more, got {self.count}")

    def _policy(self) -> tuple[float, float, float]:
        """(first delay, factor, cap) in seconds: what the backend's spec carries."""
        if isinstance(self.backoff, Backoff):
            return self.backoff.base_seconds, float(self.backoff.factor), self.backoff.cap_seconds
        first = _seconds(self.backoff) or 0.0
        return first, self.backoff_factor, self.max_backoff

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        first, factor, cap = self._policy()
        if not first:
            return 0.0
        try:
            return min(first * factor ** (attempt - 1), cap)
        except OverflowError:
            return cap


def as_retries(value: Union[RetryStrategy, int, None]) -> RetryStrategy:
    if isinstance(value, RetryStrategy):
        return value
    return RetryStrategy(count=int(value or 0))


def _seconds(value: Union[int, float, datetime.timedelta, None]) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return float(value)


@dataclasses.dataclass(frozen=True)
class Timeout:
    """Limits on an action's time, each optional (unset or 0: unlimited), as in Flyte 2:
    `max_runtime` per attempt while it runs, `max_queued_time` per attempt while it waits to
    start, `deadline` from the first time it is queued to its end, across all attempts.

    `deadline` is enforced in local mode; the backend has no deadline yet, so a remote run of a
    task with one is refused with an error saying so."""

    max_runtime: Union[int, float, datetime.timedelta, None] = None
    max_queued_time: Union[int, float, datetime.timedelta, None] = None
    deadline: Union[int, float, datetime.timedelta, None] = None

    @property
    def runtime_seconds(self) -> float | None:
        seconds = _seconds(self.max_runtime)
        return seconds if seconds else None

    @property
    def queued_seconds(self) -> float | None:
        seconds = _seconds(self.max_queued_time)
        return seconds if seconds else None

    @property
    def deadline_seconds(self) -> float | None:
        seconds = _seconds(self.deadline)
        return seconds if seconds else None


TimeoutType = Union[Timeout, int, float, datetime.timedelta]


def as_timeout(value: Union[Timeout, int, float, datetime.timedelta, None]) -> Timeout | None:
    if value is None or isinstance(value, Timeout):
        return value
    if isinstance(value, (int, float, datetime.timedelta)):
        return Timeout(max_runtime=value) if _seconds(value) else None
    raise TypeError(f"timeout={value!r} is not understood; use seconds, a timedelta or flyte.Timeout(...)")


@dataclasses.dataclass(frozen=True)
class ReusePolicy:
    """Keep warm worker processes for an environment between actions (remote mode)."""

    replicas: Union[int, tuple[int, int]] = 2
    idle_ttl: Union[int, datetime.timedelta] = 30
    concurrency: int = 1
    scaledown_ttl: Union[int, datetime.timedelta] = 30


@dataclasses.dataclass(frozen=True)
class Secret:
    """A secret an action reads (Flyte 2's `flyte.Secret`): the stored secret `key` (`group.key`
    with a group), as the env var `as_env_var` (default: the name upper-cased, `_` for the rest)
    or, with `mount`, as a file whose path `$<ENV>_FILE` holds. See `_internal/runtime/secret_names`."""

    key: str
    group: str | None = None
    mount: str | None = None
    as_env_var: str | None = None

    def __post_init__(self) -> None:
        from flyte_jupyter._internal.runtime.secret_names import env_var_for, stored_name

        stored_name(self.key, self.group)  # a bad name fails where the task is declared
        env_var_for(self.key, self.group, self.as_env_var)

    @property
    def name(self) -> str:
        """The stored secret's name."""
        from flyte_jupyter._internal.runtime.secret_names import stored_name

        return stored_name(self.key, self.group)

    @property
    def env_var(self) -> str:
        from flyte_jupyter._internal.runtime.secret_names import env_var_for

        return env_var_for(self.key, self.group, self.as_env_var)


@dataclasses.dataclass
class PodTemplate:
    """A partial Kubernetes pod for an environment's or a task's actions (Flyte 2's `PodTemplate`).

    `pod_spec` is a `kubernetes.client.V1PodSpec` or the same as a dict (Kubernetes' JSON form);
    the container named `primary_container_name` gives the defaults of the task's own container,
    the others run beside it; `labels` and `annotations` go on the pod. It travels in the task spec
    and the Kubernetes executor applies it; the local-process executor and local mode carry it
    without effect (there is no pod).
    """

    pod_spec: Any = None
    primary_container_name: str = "primary"
    labels: Optional[Dict[str, str]] = None
    annotations: Optional[Dict[str, str]] = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form carried in the task spec (what the Kubernetes executor reads)."""
        spec = self.pod_spec
        if spec is not None and not isinstance(spec, dict):
            try:
                from kubernetes.client import ApiClient  # the Kubernetes form, camelCase keys

                spec = ApiClient().sanitize_for_serialization(spec)
            except ImportError:
                to_dict = getattr(spec, "to_dict", None)
                if to_dict is None:
                    raise TypeError(f"PodTemplate.pod_spec must be a V1PodSpec or a dict, not {type(spec).__name__}")
                spec = to_dict()
        out: dict[str, Any] = {"primary_container_name": self.primary_container_name}
        if spec:
            out["pod_spec"] = spec
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out
