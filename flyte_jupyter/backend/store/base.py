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
    LeaseTerms,
    RegistrationRecord,
    RunRecord,
    SecretRecord,
    TaskKey,
    TickRecord,
    TriggerKey,
    TriggerRecord,
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
    async def put_run(self, run: RunRecord, root: ActionRecord, lease: LeaseTerms | None = None) -> bool:
        """Store a new run and its root action; with `lease`, lease the run to that replica in the
        same transaction. False, nothing written, when another replica holds a live lease of it
        (two replicas creating one name: exactly one gets it)."""

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

    # -- replica leases (scale-out): which replica owns a run; see backend/replicas.py -----------
    @abc.abstractmethod
    async def claim_runs(self, owner: str, endpoint: str, ttl: float,
                         key: tuple[str, str, str] | None = None) -> list[RunRecord]:
        """Lease to `owner` every unfinished run (or only `key`) that no replica holds or whose
        lease expired; the runs claimed. Of concurrent claims of one run exactly one wins."""

    @abc.abstractmethod
    async def renew_leases(self, owner: str, ttl: float, endpoint: str) -> int:
        """Extend every lease `owner` holds to `ttl` from now, with its `endpoint`; how many it holds."""

    @abc.abstractmethod
    async def lease_of(self, key: tuple[str, str, str]) -> tuple[str, str, float] | None:
        """(owner, endpoint, seconds left; negative once expired) of a run's lease, None if none."""

    @abc.abstractmethod
    async def live_roots(self, keys: list[tuple[str, str, str]],
                         created_after: float) -> list[tuple[RunRecord, ActionRecord, int]]:
        """Every unfinished run, every run created after `created_after` and each run of `keys`,
        with its root action and action count (WatchRuns on a replica: the runs other replicas
        drive, read from the database)."""

    # -- task-resource attributes (issue 13): resource defaults per project and domain, stored beside
    # the limits of `put_limits` (the attributes' limits are those limits) ------------------------

    @abc.abstractmethod
    async def put_resource_attributes(self, project: str, domain: str, defaults: dict[str, str],
                                      limits: dict[str, str]) -> None:
        """Replace a project-domain's resource defaults and limits in one transaction."""

    @abc.abstractmethod
    async def delete_resource_attributes(self, project: str, domain: str) -> bool:
        """Remove a project-domain's defaults and limits in one transaction; whether there were any."""

    @abc.abstractmethod
    async def all_resource_defaults(self) -> dict[tuple[str, str], dict[str, str]]: ...
    # -- secrets (issue 19) ------------------------------------------------------------------------
    @abc.abstractmethod
    async def put_secret(self, secret: SecretRecord, overwrite: bool) -> bool:
        """Store a sealed secret; False (nothing written) when one of that name exists and not
        `overwrite`. An overwrite keeps `created_at`."""

    @abc.abstractmethod
    async def get_secret(self, project: str, domain: str, name: str) -> SecretRecord | None: ...

    @abc.abstractmethod
    async def list_secrets(self, project: str, domain: str, limit: int) -> list[SecretRecord]:
        """By name; `sealed` left empty (a listing never needs a value)."""

    @abc.abstractmethod
    async def delete_secret(self, project: str, domain: str, name: str) -> bool: ...

    # -- triggers (issue 19) -----------------------------------------------------------------------
    @abc.abstractmethod
    async def put_triggers(self, triggers: list[TriggerRecord]) -> None:
        """Upsert deployed triggers in one transaction: a trigger already there gets the new spec
        and task version and keeps whether it is active (and since when)."""

    @abc.abstractmethod
    async def list_triggers(self, project: str | None = None, domain: str | None = None) -> list[TriggerRecord]: ...

    @abc.abstractmethod
    async def set_trigger_active(self, key: TriggerKey, active: bool, now: float) -> bool: ...

    @abc.abstractmethod
    async def delete_trigger(self, key: TriggerKey) -> bool: ...

    @abc.abstractmethod
    async def put_triggered_run(self, run: RunRecord, root: ActionRecord, tick: TickRecord,
                                lease: LeaseTerms | None = None) -> bool:
        """`put_run` and the tick's record in one transaction; False (nothing written) when the
        tick has fired already (by this process before a restart, or by another replica) or
        another replica holds a live lease of the run."""

    @abc.abstractmethod
    async def last_ticks(self) -> dict[TriggerKey, TickRecord]:
        """The newest fired tick of every trigger (kept with the trigger, not found among its ticks)."""
    # -- DeleteRun ------------------------------------------------------------------------------

    @abc.abstractmethod
    async def delete_run(self, project: str, domain: str, name: str) -> int:
        """Delete a run and its actions in one transaction; returns how many actions went. The
        caller checks that the run has ended (cache entries it produced stay: they point at
        outputs the caller deletes or keeps)."""
    # -- rerun and recovery (issue 17) ---------------------------------------------------------
    # An action's `recovered_from` and `usage` (its ended attempts) are written with the action by
    # `put_actions`/`put_run` and read back by `get_actions`; a run created as a rerun keeps its
    # source (what it recovers from) so that a restarted backend goes on recovering.

    @abc.abstractmethod
    async def put_rerun_source(self, project: str, domain: str, run: str, source: bytes) -> None:
        """Keep a run's serialized RerunSource (written before the run itself)."""

    @abc.abstractmethod
    async def get_rerun_source(self, project: str, domain: str, run: str) -> bytes | None: ...
