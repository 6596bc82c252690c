"""Registering a package on a backend: one request for every task, the bundle uploaded once.

`register_package(client, package, project=, domain=, version=)`:
1. fills in each spec's version (the one given, else the package's: a digest of the bundle and the
   images, as Flyte computes one) and the URI its bundle will have (content-addressed:
   STORAGE/bundles/<sha256>.tar.gz);
2. asks the backend to check the whole request (`validate_only`: limits, names, conflicting
   versions), so that a refused request uploads nothing;
3. uploads the bundle unless it is there already;
4. registers every task in one request, which the backend stores whole or not at all.

A pickle bundle (notebook code) differs byte for byte between sessions even for the same code; when
its code fingerprint (`fingerprint.py`) equals that of every task already registered under the
version, and each spec is the registered one but for the bundle's URI, the registered bundle is
kept: the request is then the registered one, a no-op, and nothing is uploaded.
"""

from __future__ import annotations

import dataclasses
import functools
import getpass
import hashlib
from typing import Any

from flyte_jupyter._internal.deploy.package import BUNDLE_PLACEHOLDER, Package
from flyte_jupyter._internal.wire.proto import task_service_pb2 as task_pb

_SUFFIX = {"tgz": ".tar.gz", "pkl": ".pkl.gz"}


@dataclasses.dataclass(frozen=True)
class RegisteredVersion:
    """One task of a registration: name, version, spec digest, when, by whom, and whether this
    registration created it (False: it was there with the same spec, nothing changed)."""

    name: str
    version: str
    digest: str
    created_at: float
    created_by: str
    created: bool
    environment: str


def who() -> str:
    """The user name registrations record."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database entry (containers)
        return "unknown"


def bundle_uri(package: Package, storage_root: str) -> str:
    from flyte_jupyter._internal.runtime import storage as _storage

    digest = package.message.bundle_digest
    return _storage.join(storage_root, "bundles", f"{digest}{_SUFFIX[package.message.bundle_kind]}")


def entries_for(package: Package, version: str, uri: str) -> list[task_pb.TaskEntry]:
    """The package's entries with their version and their bundle's URI filled in."""
    out = []
    for entry in package.message.tasks:
        filled = task_pb.TaskEntry()
        filled.CopyFrom(entry)
        filled.spec.id.version = version
        args = [uri if a == BUNDLE_PLACEHOLDER else a for a in filled.spec.args]
        del filled.spec.args[:]
        filled.spec.args.extend(args)
        out.append(filled)
    return out


def _upload(package: Package, uri: str) -> None:
    from flyte_jupyter._internal.runtime import storage as _storage

    if hashlib.sha256(package.bundle).hexdigest() != package.message.bundle_digest:
        raise ValueError("the package's bundle does not have the digest it names")
    if not _storage.exists(uri):
        _storage.put_bytes(uri, package.bundle)


async def register_package(client: Any, package: Package, *, project: str | None = None, domain: str | None = None,
                           version: str | None = None, registered_by: str | None = None) -> list[RegisteredVersion]:
    """Register every task of the package (see the module docstring); raises BackendError
    (ALREADY_EXISTS: a version exists with another spec; INVALID_ARGUMENT: over a limit, ...)."""
    import asyncio

    from flyte_jupyter._internal.client.calls import acall
    from flyte_jupyter._internal.client.submit import storage_root_of

    storage_root = await acall(lambda: storage_root_of(client))
    uri = bundle_uri(package, storage_root)
    entries = entries_for(package, version or package.message.default_version, uri)
    kept = await _registered_bundle(client, package, entries, uri, project, domain)
    if kept:
        uri, entries = kept, [_with_bundle(e, uri, kept) for e in entries]
    by = registered_by or who()
    await acall(lambda: client.register_tasks(entries, project=project, domain=domain, registered_by=by,
                                              validate_only=True))
    if not kept:
        await asyncio.get_running_loop().run_in_executor(None, _upload, package, uri)
    done = await acall(lambda: client.register_tasks(entries, project=project, domain=domain, registered_by=by))
    return [RegisteredVersion(t.id.name, t.id.version, t.digest, t.created_at, t.created_by, t.created,
                              t.entry.spec.environment) for t in done]


def _with_bundle(entry: task_pb.TaskEntry, old: str, new: str) -> task_pb.TaskEntry:
    out = task_pb.TaskEntry()
    out.CopyFrom(entry)
    args = [new if a == old else a for a in out.spec.args]
    del out.spec.args[:]
    out.spec.args.extend(args)
    return out


async def _registered_bundle(client: Any, package: Package, entries: list[task_pb.TaskEntry], uri: str,
                             project: str | None, domain: str | None) -> str:
    """The bundle URI the version's registered tasks run, when they hold the same code as this
    pickle package (same fingerprint, same specs but for the bundle); else ""."""
    from flyte_jupyter._internal.client.calls import acall
    from flyte_jupyter.errors import BackendError

    digest = package.message.code_digest
    if package.message.bundle_kind != "pkl" or not digest:
        return ""
    kept = ""
    for entry in entries:
        name, version = entry.spec.id.name, entry.spec.id.version
        try:
            reg = await acall(functools.partial(client.get_task, name, version, project=project, domain=domain))
        except BackendError as exc:
            if exc.code == "NOT_FOUND":
                return ""
            raise
        args = list(reg.entry.spec.args)
        if reg.id.version != version or reg.entry.code_digest != digest or "--pkl" not in args[:-1]:
            return ""
        theirs = args[args.index("--pkl") + 1]
        if kept and theirs != kept:
            return ""
        kept = theirs
    return kept if kept != uri else ""


__all__ = ["RegisteredVersion", "bundle_uri", "entries_for", "register_package", "who"]
