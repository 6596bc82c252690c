"""The `Store` interface: what the services need from persistence, whatever the database.

Write methods return once the write is durable, so nothing a client was told succeeded is lost.
"""

from __future__ import annotations

import abc
import asyncio
from typing import Any

from flyte_jupyter.backend.store.records import (
    ActionRecord,
    CacheRecord,
    RegistrationRecord,
    RunRecord,
    TaskKey,
)


class Store(abc.ABC):
    """What the services need from persistence. Write methods return once the write is durable."""

    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    # writes (batched by the implementation)
    @abc.abstractmethod
    async def put_task(self, key: TaskKey, digest: str, spec: bytes) -> None: ...

    @abc.abstractmethod
    async def put_registrations(self, tasks: list[tuple[TaskKey, str, bytes]],
                                registrations: list[RegistrationRecord]) -> None:
        """Store task specs (key, digest, spec; kept when already there) and registrations in one
        transaction: all of them or none."""

    @abc.abstractmethod
    async def put_run(self, run: RunRecord, root: ActionRecord) -> None: ...

    @abc.abstractmethod
    async def put_actions(self, actions: list[ActionRecord]) -> None: ...

    def put_actions_nowait(self, actions: list[ActionRecord]) -> "asyncio.Future[Any]":
        """Queue upserts (rows captured now); the future resolves once they are durable. The state
        hub uses this so that changes keep their order without awaiting each one."""
        return asyncio.ensure_future(self.put_actions(list(actions)))

    @abc.abstractmethod
    async def put_cache(self, entry: CacheRecord) -> None: ...

    @abc.abstractmethod
    async def delete_cache(self, task_name: str | None) -> int: ...

    @abc.abstractmethod
    async def put_limits(self, project: str, domain: str, limits: dict[str, str]) -> None: ...

    # reads
    @abc.abstractmethod
    async def get_task(self, key: TaskKey) -> tuple[str, bytes] | None: ...

    @abc.abstractmethod
    async def get_registration(self, key: TaskKey) -> RegistrationRecord | None: ...

    @abc.abstractmethod
    async def latest_registration(self, project: str, domain: str, name: str) -> RegistrationRecord | None:
        """The newest registered version of a task."""

    @abc.abstractmethod
    async def list_registrations(self, project: str, domain: str, name: str | None, limit: int,
                                 latest_only: bool = False) -> list[RegistrationRecord]:
        """Registered versions by task name, newest first within a name."""

    @abc.abstractmethod
    async def get_run(self, project: str, domain: str, name: str) -> RunRecord | None: ...

    @abc.abstractmethod
    async def get_actions(self, project: str, domain: str, run: str) -> list[ActionRecord]: ...

    @abc.abstractmethod
    async def list_runs(self, project: str, domain: str, limit: int) -> list[RunRecord]: ...

    @abc.abstractmethod
    async def run_roots(self, project: str, domain: str, limit: int) -> list[tuple[RunRecord, ActionRecord | None, int]]:
        """Newest runs with their root action and action count (for listings)."""

    @abc.abstractmethod
    async def unfinished_runs(self) -> list[RunRecord]: ...

    @abc.abstractmethod
    async def max_seq(self) -> int: ...

    @abc.abstractmethod
    async def all_cache(self) -> list[CacheRecord]: ...

    @abc.abstractmethod
    async def all_limits(self) -> dict[tuple[str, str], dict[str, str]]: ...

    # -- rerun and recovery (issue 17) ---------------------------------------------------------
    # An action's `recovered_from` and `usage` (its ended attempts) are written with the action by
    # `put_actions`/`put_run` and read back by `get_actions`; a run created as a rerun keeps its
    # source (what it recovers from) so that a restarted backend goes on recovering.

    @abc.abstractmethod
    async def put_rerun_source(self, project: str, domain: str, run: str, source: bytes) -> None:
        """Keep a run's serialized RerunSource (written before the run itself)."""

    @abc.abstractmethod
    async def get_rerun_source(self, project: str, domain: str, run: str) -> bytes | None: ...
