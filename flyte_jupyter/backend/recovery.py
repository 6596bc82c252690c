"""Recovery by recorded outputs: a rerun (or a resume) of an earlier run reuses the actions that
succeeded there instead of running them again.

An action of the new run is *recoverable* when the source run has an action of the same name
(names are deterministic: parent, task, inputs and call order) that ended SUCCEEDED or RECOVERED,
for the same task, with the same code: the same task version (a rerun replays the recorded spec) or,
when the version differs (a resume bundles the notebook's current code), the same per-task
`code_digest`. It is then recorded RECOVERED at once, with the source's outputs and a reference to
the action they came from (`recovered_from`, "RUN/ACTION"), and never runs. `force_rerun_actions`
names actions that run again anyway (by their names in the source run or in the new one). The root
`a0` is recovered only when its inputs are the ones the source ran with. A rerun rooted at a child
(`action_name`) recovers that child's descendants too: their names in the new run are re-derived
from the new root's (`rerooted`).

This is not the cache: the cache is keyed by task, cache version and inputs across runs and only
for tasks that opt in; recovery follows one source run, for every task.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import TYPE_CHECKING, Callable

from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._internal.runtime.naming import ROOT_ACTION, child_action_name
from flyte_jupyter._internal.runtime.spec import name_hash_of_inputs
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import run_service_pb2 as run_pb
from flyte_jupyter.backend.store.records import SUCCESS, ActionRecord, RunKey

if TYPE_CHECKING:
    from flyte_jupyter.backend.catalog import TaskCatalog
    from flyte_jupyter.backend.state import RunEntry, StateHub
    from flyte_jupyter.backend.store.base import Store


class RecoverySource:
    """The succeeded actions of one source run, and what a new run may not take from them."""

    def __init__(self, run: str, succeeded: dict[str, ActionRecord], digests: dict[str, str],
                 force: frozenset[str], root_inputs_same: bool) -> None:
        self.run = run
        self.succeeded = succeeded
        self.digests = digests  # action name -> its task's code_digest in the source run
        self.force = force
        self.root_inputs_same = root_inputs_same

    def match(self, rec: ActionRecord, spec: pb.TaskSpec) -> ActionRecord | None:
        """The source action `rec` may reuse, or None (then it runs)."""
        src = self.succeeded.get(rec.name)
        if src is None or rec.name in self.force or src.task_name != rec.task_name:
            return None
        if rec.name == ROOT_ACTION and not self.root_inputs_same:
            return None
        if src.task_version == rec.task_version:
            return src
        digest = self.digests.get(rec.name, "")
        return src if digest and digest == spec.code_digest else None


def rerooted(actions: dict[str, ActionRecord], root: str,
             name_hash: Callable[[ActionRecord], str | None]) -> dict[str, str]:
    """Source name -> name in a new run rooted at `root`: `root` becomes `a0`, and each of its
    descendants the name its parent's new name gives it (a child's name hashes its parent's name,
    its task, its inputs (`name_hash`) and its call position, so it changes with its root's). The
    call position is not recorded: it is found by trying positions near the child's place in its
    parent's queue order (it is that place unless calls were skipped, e.g. by traces). A child
    whose name cannot be re-derived is left out: it runs again."""
    children: dict[str, list[ActionRecord]] = {}
    for rec in actions.values():
        if rec.parent:
            children.setdefault(rec.parent, []).append(rec)
    out = {root: ROOT_ACTION}
    todo = [root]
    while todo:
        parent = todo.pop()
        kids = sorted(children.get(parent, []), key=lambda r: (r.queued_at, r.name))
        bound = len(kids) + _SEQ_SLACK
        for i, kid in enumerate(kids):
            digest = name_hash(kid)
            seq = None if digest is None else _call_position(parent, kid, digest, i, bound)
            if digest is None or seq is None:
                continue
            out[kid.name] = child_action_name(out[parent], kid.task_name, digest, seq)
            todo.append(kid.name)
    return out


_SEQ_SLACK = 64


def _call_position(parent: str, kid: ActionRecord, digest: str, guess: int, bound: int) -> int | None:
    for step in range(bound):
        for seq in (guess + step, guess - step) if step else (guess,):
            if 0 <= seq < bound and child_action_name(parent, kid.task_name, digest, seq) == kid.name:
                return seq
    return None


def _recorded_name_hash(rec: ActionRecord) -> str | None:
    """The inputs hash in `rec`'s name, from the inputs it was sent with (None: unreadable)."""
    try:
        return name_hash_of_inputs(_storage.get_bytes(rec.inputs_uri) if rec.inputs_uri else b"")
    except Exception:  # noqa: BLE001 - a store's own errors, a damaged file: the child runs again
        return None


def mark_recovered(rec: ActionRecord, src: ActionRecord) -> None:
    """Record `rec` as RECOVERED from `src`: its outputs, no attempt, queued and ended now."""
    now = time.time()
    rec.phase = pb.PHASE_RECOVERED
    rec.attempt = 0
    rec.queued_at = rec.queued_at or now
    rec.started_at = rec.ended_at = now
    rec.outputs_uri = src.outputs_uri
    rec.recovered_from = f"{src.run}/{src.name}"
    rec.error = None


class Recoveries:
    """The recovery source of every run created with `recover`, kept while the run is live and
    persisted (as its RerunSource) so that a restarted backend goes on recovering."""

    _KEEP = 256

    def __init__(self, store: Store, hub: StateHub, catalog: TaskCatalog) -> None:
        self.store = store
        self.hub = hub
        self.catalog = catalog
        self._sources: collections.OrderedDict[RunKey, RecoverySource | None] = collections.OrderedDict()

    async def build(self, project: str, domain: str, rerun: run_pb.RerunSource,
                    root_inputs_same: bool) -> RecoverySource:
        """The source of a new run that recovers from `rerun.run` (which must exist)."""
        entry = await self.hub.get((project, domain, rerun.run))
        if entry is None:
            raise LookupError(rerun.run)
        succeeded: dict[str, ActionRecord] = {}
        digests: dict[str, str] = {}
        root = rerun.action or ROOT_ACTION
        actions = dict(entry.actions)
        renamed = {n: n for n in actions} if root == ROOT_ACTION else await asyncio.to_thread(
            rerooted, actions, root, _recorded_name_hash)
        for source_name, name in renamed.items():
            rec = actions[source_name]
            if rec.phase not in SUCCESS:
                continue
            succeeded[name] = rec
            spec = await self.catalog.get(rec.task_key)
            if spec is not None and spec.code_digest:
                digests[name] = spec.code_digest
        forced = set(rerun.force_rerun_actions)
        forced |= {renamed[n] for n in rerun.force_rerun_actions if n in renamed}
        return RecoverySource(rerun.run, succeeded, digests, frozenset(forced), root_inputs_same)

    async def keep(self, key: RunKey, rerun: run_pb.RerunSource, source: RecoverySource) -> None:
        """Persist the new run's source (before the run is stored) and keep it at hand."""
        await self.store.put_rerun_source(*key, rerun.SerializeToString())
        self._remember(key, source)

    async def source_for(self, entry: RunEntry) -> RecoverySource | None:
        """The recovery source of a live run, or None when it recovers nothing."""
        key = entry.run.key
        if key in self._sources:
            self._sources.move_to_end(key)
            return self._sources[key]
        data = await self.store.get_rerun_source(*key)
        source = None
        if data:
            msg = run_pb.RerunSource.FromString(data)
            if msg.recover:
                try:
                    # a0 was decided when the run was created; this serves its children
                    source = await self.build(key[0], key[1], msg, root_inputs_same=False)
                except LookupError:
                    source = None
        self._remember(key, source)
        return source

    def _remember(self, key: RunKey, source: RecoverySource | None) -> None:
        self._sources[key] = source
        self._sources.move_to_end(key)
        while len(self._sources) > self._KEEP:
            self._sources.popitem(last=False)
