"""Declarative policies a task carries: resources, cache, retries, timeouts, reuse, secrets.

They follow Flyte 2's constructors and accepted shorthands (an int for retries, seconds or a
timedelta for timeouts, "auto" for cache) so notebooks written for Flyte run unchanged.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import Literal, Union, cast

from flyte_jupyter._internal.wire.quantities import parse_cpu, parse_memory

ResourceValue = Union[str, int, float, None, tuple]


@dataclasses.dataclass(frozen=True)
class Resources:
    """Requests (and, as a (request, limit) tuple, limits) for one action."""

    cpu: ResourceValue = None
    memory: ResourceValue = None
    gpu: ResourceValue = None
    disk: ResourceValue = None
    shm: ResourceValue = None

    def __post_init__(self) -> None:
        # Validate eagerly so a typo fails at decoration time, not when the run starts.
        self.cpu_cores()
        self.memory_bytes()

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
class RetryStrategy:
    """How often a failed action runs again, and how long to wait between attempts.

    `backoff` is the first delay in seconds (or a timedelta); each later delay doubles, capped at
    `max_backoff`.
    """

    count: int = 0
    backoff: Union[float, datetime.timedelta, None] = None
    backoff_factor: float = 2.0
    max_backoff: float = 300.0

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(f"retries must be 0 or more, got {self.count}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if not self.backoff:
            return 0.0
        first = self.backoff.total_seconds() if isinstance(self.backoff, datetime.timedelta) else float(self.backoff)
        return min(first * self.backoff_factor ** (attempt - 1), self.max_backoff)


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
    """Limits on how long an action may run, and how long it may wait in the queue."""

    max_runtime: Union[int, float, datetime.timedelta]
    max_queued_time: Union[int, float, datetime.timedelta, None] = None

    @property
    def runtime_seconds(self) -> float | None:
        seconds = _seconds(self.max_runtime)
        return seconds if seconds else None

    @property
    def queued_seconds(self) -> float | None:
        return _seconds(self.max_queued_time)


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
    """A secret an action may read; locally it comes from the environment variable of the same name."""

    key: str
    group: str | None = None
    mount: str | None = None
    as_env_var: str | None = None

    @property
    def env_var(self) -> str:
        if self.as_env_var:
            return self.as_env_var
        name = f"{self.group}_{self.key}" if self.group else self.key
        return re.sub(r"[^A-Za-z0-9_]", "_", name).upper()
