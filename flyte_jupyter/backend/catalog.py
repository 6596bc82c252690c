"""Registered task specs: one immutable spec per (project, domain, name, version).

Registering the same version again with the same spec is a no-op; with a different spec it is
refused with ALREADY_EXISTS naming both specs' digests (Flyte's rule: a version is immutable).
"""

from __future__ import annotations

import hashlib

from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter.backend.store.base import Store
from flyte_jupyter.backend.store.records import TaskKey


class VersionConflict(Exception):
    """The version exists with a different spec."""


def spec_digest(spec: pb.TaskSpec) -> str:
    return hashlib.sha256(spec.SerializeToString(deterministic=True)).hexdigest()


class TaskCatalog:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._specs: dict[TaskKey, tuple[str, pb.TaskSpec]] = {}
        self._pending: dict[TaskKey, object] = {}

    @staticmethod
    def key(spec: pb.TaskSpec) -> TaskKey:
        return (spec.id.project, spec.id.domain, spec.id.name, spec.id.version)

    async def register(self, spec: pb.TaskSpec) -> str:
        """Store the spec under its version, or check it matches what is stored there."""
        key = self.key(spec)
        digest = spec_digest(spec)
        known = self._specs.get(key)
        if known is None:
            stored = await self.store.get_task(key)
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

    async def check(self, spec: pb.TaskSpec) -> None:
        """Raise VersionConflict if the version exists with a different spec; store nothing (what a
        service checks before it stores any part of a request)."""
        key = self.key(spec)
        known = self._specs.get(key)
        digest = known[0] if known is not None else None
        if known is None:
            stored = await self.store.get_task(key)
            digest = stored[0] if stored is not None else None
        if digest is not None and digest != spec_digest(spec):
            raise self._conflict(key, digest, spec_digest(spec))

    @staticmethod
    def _conflict(key: TaskKey, existing: str, new: str) -> VersionConflict:
        project, domain, name, version = key
        return VersionConflict(
            f"task {name!r} version {version!r} in {project}/{domain} already exists with a different "
            f"spec (existing spec {existing[:12]}, new spec {new[:12]}); a version is immutable: "
            "change the code or pick a new version"
        )

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
