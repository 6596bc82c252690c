"""Registered task specs: one immutable spec per (project, domain, name, version).

Registering the same version again with the same spec is a no-op; with a different spec it is
refused with ALREADY_EXISTS naming both specs' digests (Flyte's rule: a version is immutable).

A spec is stored here by every run (the spec its actions run), and by a registration ahead of any
run (`register_tasks`, what `flyte-jupyter deploy` and `register` send): a registration also keeps
who registered it, when, and the task's typed interface, and is what `tasks list`, `latest` and a
run by reference (`CreateRun.task_ref`) find. A registration request is stored whole or not at
all: every task of it is checked first, one conflict refuses the request, and the specs and
registrations are then written in one transaction.

A version's identity is the spec as its client sent it (`identity`, its digest): the stored spec
may hold more, the project-domain's resource defaults filled in where the task requested
nothing (`services/context.effective_spec`), so the resources a version runs with are recorded
with it, and the same code sent again after the defaults changed is still the same version.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib

from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter.backend.store.base import Store
from flyte_jupyter.backend.store.records import RegistrationRecord, TaskKey

LATEST = "latest"  # the version name that means "the newest registered version"


class VersionConflict(Exception):
    """The version exists with a different spec."""


def spec_digest(spec: pb.TaskSpec) -> str:
    return hashlib.sha256(spec.SerializeToString(deterministic=True)).hexdigest()


@dataclasses.dataclass(frozen=True)
class Registered:
    """One registered task version: its record, its spec, and whether this request created it."""

    record: RegistrationRecord
    spec: pb.TaskSpec
    created: bool = False


class TaskCatalog:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._specs: dict[TaskKey, tuple[str, pb.TaskSpec]] = {}
        self._pending: dict[TaskKey, object] = {}
        self._registering = asyncio.Lock()  # one registration request at a time: check, then write

    @staticmethod
    def key(spec: pb.TaskSpec) -> TaskKey:
        return (spec.id.project, spec.id.domain, spec.id.name, spec.id.version)

    async def register(self, spec: pb.TaskSpec, identity: str | None = None) -> str:
        """Store the spec under its version, or check it matches what is stored there; `identity`:
        the digest of the spec as sent (default: of `spec`)."""
        key = self.key(spec)
        digest = identity or spec_digest(spec)
        known = self._specs.get(key)
        stored: tuple[str, bytes] | None = None
        if known is None:
            stored = await self.store.get_task(key)
            known = self._specs.get(key)  # a registration may have put it there meanwhile
        if known is None:
            if stored is None:
                self._specs[key] = (digest, spec)
                try:
                    await self.store.put_task(key, digest, spec.SerializeToString(deterministic=True))
                except Exception:
                    self._specs.pop(key, None)
                    raise
                known = self._specs[key]
            else:
                loaded = pb.TaskSpec()
                loaded.ParseFromString(stored[1])
                known = self._specs.setdefault(key, (stored[0], loaded))
        if known[0] != digest:
            raise self._conflict(key, known[0], digest)
        return digest

    async def check(self, spec: pb.TaskSpec, identity: str | None = None) -> None:
        """Raise VersionConflict if the version exists with a different spec; store nothing (what a
        service checks before it stores any part of a request)."""
        key = self.key(spec)
        known = self._specs.get(key)
        digest = known[0] if known is not None else None
        if known is None:
            stored = await self.store.get_task(key)
            digest = stored[0] if stored is not None else None
        new = identity or spec_digest(spec)
        if digest is not None and digest != new:
            raise self._conflict(key, digest, new)

    async def lookup(self, key: TaskKey) -> tuple[str, pb.TaskSpec] | None:
        """(identity digest, stored spec) of a version, or None when it is not stored."""
        if key not in self._specs:
            await self.get(key)  # loads it from the store when it is there
        return self._specs.get(key)

    @staticmethod
    def _conflict(key: TaskKey, existing: str, new: str) -> VersionConflict:
        project, domain, name, version = key
        return VersionConflict(
            f"task {name!r} version {version!r} in {project}/{domain} already exists with a different "
            f"spec (existing spec {existing[:12]}, new spec {new[:12]}); a version is immutable: "
            "change the code or pick a new version"
        )

    def cached(self, key: TaskKey) -> pb.TaskSpec | None:
        """The spec of a version this process has seen (stored, registered or loaded), without a
        look at the store: for the executor's admission, which cannot wait."""
        known = self._specs.get(key)
        return known[1] if known is not None else None

    async def get(self, key: TaskKey) -> pb.TaskSpec | None:
        known = self._specs.get(key)
        if known is None:
            stored = await self.store.get_task(key)
            if stored is None:
                return None
            loaded = pb.TaskSpec()
            loaded.ParseFromString(stored[1])
            known = self._specs.setdefault(key, (stored[0], loaded))
        return known[1]

    # -- registrations ahead of a run ------------------------------------------------------------

    async def register_tasks(self, specs: list[pb.TaskSpec], entries: list[bytes], created_by: str,
                             now: float, identities: list[str] | None = None) -> list[Registered]:
        """Register a request's tasks, all or none: a version already registered with the same spec
        is kept as it is (`created` False), one with another spec refuses the whole request with
        VersionConflict before anything is stored. `entries[i]` is the serialized TaskEntry (without
        its spec) kept beside `specs[i]`."""
        async with self._registering:
            keys = [self.key(spec) for spec in specs]
            digests = identities or [spec_digest(spec) for spec in specs]
            stored_specs: dict[TaskKey, tuple[str, bytes]] = {}
            stored_regs: dict[TaskKey, RegistrationRecord | None] = {}
            for key in keys:
                if key not in self._specs:
                    got = await self.store.get_task(key)
                    if got is not None:
                        stored_specs[key] = got
                stored_regs[key] = await self.store.get_registration(key)
            # Nothing awaits from here until the write: what runs store meanwhile is seen here.
            conflicts = []
            for key, digest in zip(keys, digests):
                known = self._specs.get(key)
                existing = known[0] if known is not None else stored_specs.get(key, (None,))[0]
                if existing is not None and existing != digest:
                    conflicts.append(self._conflict(key, existing, digest))
            if conflicts:
                more = f"; {len(conflicts) - 1} more task(s) of this request conflict too" if len(conflicts) > 1 else ""
                raise VersionConflict(f"{conflicts[0]}{more}; nothing of this request was stored")
            new_specs: list[tuple[TaskKey, str, bytes]] = []
            new_regs: list[RegistrationRecord] = []
            added: list[TaskKey] = []
            out: list[Registered] = []
            for spec, key, digest, entry in zip(specs, keys, digests, entries):
                if key not in self._specs:
                    if key in stored_specs:
                        loaded = pb.TaskSpec()
                        loaded.ParseFromString(stored_specs[key][1])
                        self._specs[key] = (stored_specs[key][0], loaded)
                    else:
                        self._specs[key] = (digest, spec)
                        added.append(key)
                        new_specs.append((key, digest, spec.SerializeToString(deterministic=True)))
                record = stored_regs[key]
                created = record is None
                if record is None:
                    record = RegistrationRecord(*key, digest=digest, created_at=now, created_by=created_by,
                                                entry=entry)
                    new_regs.append(record)
                out.append(Registered(record, self._specs[key][1], created))
            if new_specs or new_regs:
                try:
                    await self.store.put_registrations(new_specs, new_regs)
                except BaseException:
                    for key in added:
                        self._specs.pop(key, None)
                    raise
            return out

    async def check_tasks(self, specs: list[pb.TaskSpec], identities: list[str] | None = None) -> None:
        """Raise VersionConflict as `register_tasks` would, storing nothing."""
        conflicts = []
        for i, spec in enumerate(specs):
            try:
                await self.check(spec, identities[i] if identities else None)
            except VersionConflict as exc:
                conflicts.append(exc)
        if conflicts:
            more = f"; {len(conflicts) - 1} more task(s) of this request conflict too" if len(conflicts) > 1 else ""
            raise VersionConflict(f"{conflicts[0]}{more}; nothing of this request was stored")

    async def registered(self, project: str, domain: str, name: str, version: str) -> Registered | None:
        """A registered version (`""` or "latest": the newest one), or None."""
        if version in ("", LATEST):
            record = await self.store.latest_registration(project, domain, name)
        else:
            record = await self.store.get_registration((project, domain, name, version))
        if record is None:
            return None
        spec = await self.get(record.key)
        return Registered(record, spec) if spec is not None else None

    async def list_registered(self, project: str, domain: str, name: str | None = None, limit: int = 200,
                              latest_only: bool = False) -> list[Registered]:
        """Registered versions, by task name and newest first within a name."""
        out = []
        for record in await self.store.list_registrations(project, domain, name, limit, latest_only):
            spec = await self.get(record.key)
            if spec is not None:
                out.append(Registered(record, spec))
        return out
