"""The state hub: live runs and actions in memory, change numbers, and watch subscriptions.

Every change to an action gets the next global change number (`seq`) and is written through the
store; watchers are told about a change only after its write is committed, so nothing a watcher
saw can be lost by a crash. Each run keeps a *published* view (the committed state of each of its
actions): a watch first sends the part of that view newer than the watcher's `since_seq`, then a
synced marker, then live changes.

With replicas (`replicas.py`), the hub holds only the unfinished runs this replica leases (and
finished runs, which no one drives); asked about another replica's run it claims it if that lease
expired (and recovers it through `on_takeover`), else raises `RunElsewhere`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Awaitable, Callable, Iterable

from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter.backend.store.base import Store
from flyte_jupyter.backend.store.records import TERMINAL as _TERMINAL
from flyte_jupyter.backend.store.records import ActionRecord, RunKey, RunRecord, TickRecord

if TYPE_CHECKING:
    from flyte_jupyter.backend.replicas import Replica

log = logging.getLogger("flyte_jupyter.backend.state")


#: Finished runs keep at most this many actions in memory together (see `StateHub._evict`).
FINISHED_ACTIONS = 20_000


class TickFired(Exception):
    """A trigger's tick has its run already (see `StateHub.create_run`)."""


class RunExists(Exception):
    """A run of this name exists or is being created (by this replica or another one); the run
    service answers ALREADY_EXISTS with the message."""


@dataclasses.dataclass(eq=False)
class Subscriber:
    """One watch stream: the run it watches, an optional parent filter, and its inbox."""

    parent: str
    inbox: asyncio.Queue
    terminal_only: bool = False
    #: Instead of the inbox: hand each change to this as it is published, with no queue or task
    #: between (a warm worker's link, `services/children.py`); it must not block.
    deliver: Callable[[pb.Action], None] | None = None

    def wants(self, msg: pb.Action) -> bool:
        if self.terminal_only and msg.phase not in _TERMINAL:
            return False
        return not self.parent or msg.parent == self.parent


class Published:
    """A run's published view: each action's committed state as a message (name -> pb.Action).

    The message of an action still live is kept. One that has ended changes no more (its record is
    never written again), so only its change number is kept and the message is rebuilt from the
    record when asked for: a run of 10,000 children would otherwise hold each action twice, ~3 KB
    as a message beside ~2.7 KB as a record."""

    def __init__(self, actions: dict[str, ActionRecord]) -> None:
        self._actions = actions
        self._live: dict[str, pb.Action] = {}
        self._ended: dict[str, int] = {}  # name -> the change number of its final state

    def __len__(self) -> int:
        return len(self._live) + len(self._ended)

    def seq_of(self, name: str) -> int | None:
        msg = self._live.get(name)
        if msg is not None:
            return msg.seq
        return self._ended.get(name)

    def get(self, name: str) -> pb.Action | None:
        msg = self._live.get(name)
        if msg is not None or name not in self._ended:
            return msg
        return self._actions[name].to_pb()

    def put(self, msg: pb.Action) -> None:
        name = msg.id.name
        rec = self._actions.get(name)
        if msg.phase in _TERMINAL and rec is not None and rec.seq == msg.seq:
            self._live.pop(name, None)
            self._ended[name] = msg.seq
        else:
            self._ended.pop(name, None)
            self._live[name] = msg

    def after(self, since_seq: int, wants: Callable[[pb.Action], bool] = lambda _m: True) -> list[pb.Action]:
        """The messages newer than `since_seq` that `wants` takes, in change order."""
        out = [m for m in self._live.values() if m.seq > since_seq and wants(m)]
        for name, seq in self._ended.items():
            if seq > since_seq:
                msg = self._actions[name].to_pb()
                if wants(msg):
                    out.append(msg)
        out.sort(key=lambda m: m.seq)
        return out

    def values(self) -> list[pb.Action]:
        return self.after(0)


@dataclasses.dataclass(eq=False)
class RunEntry:
    run: RunRecord
    actions: dict[str, ActionRecord] = dataclasses.field(default_factory=dict)
    published: Published = dataclasses.field(init=False)
    children: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    subscribers: set[Subscriber] = dataclasses.field(default_factory=set)

    def __post_init__(self) -> None:
        self.published = Published(self.actions)

    def add(self, rec: ActionRecord) -> None:
        if rec.name not in self.actions and rec.parent:
            self.children.setdefault(rec.parent, []).append(rec.name)
        self.actions[rec.name] = rec

    def descendants(self, name: str) -> list[ActionRecord]:
        out: list[ActionRecord] = []
        stack = list(self.children.get(name, ()))
        while stack:
            child = self.actions.get(stack.pop())
            if child is not None:
                out.append(child)
                stack.extend(self.children.get(child.name, ()))
        return out


class StateHub:
    """In-memory runs backed by the store; see the module docstring."""

    def __init__(self, store: Store, replica: "Replica | None" = None) -> None:
        self.store = store
        self.replica = replica  # with replicas: only runs this one leases are driven here
        self.on_takeover: Callable[[list[RunEntry]], Awaitable[None]] | None = None  # the executor's recovery
        self._adopting = asyncio.Lock()  # the scan and a call may find one run at once: adopted once
        self.runs: dict[RunKey, RunEntry] = {}
        self._reserved: set[RunKey] = set()  # run names being created (see `reserve`)
        self._seq = 0
        self._run_watchers: set[asyncio.Queue] = set()

    async def load(self) -> list[RunEntry]:
        """Load every unfinished run (for recovery); finished runs load lazily when asked for."""
        self._seq = await self.store.max_seq()
        runs = await self.replica.claim_free() if self.replica else await self.store.unfinished_runs()
        entries = []
        for run in runs:
            entries.append(await self._load_run(run))
        return entries

    async def adopt(self, runs: list[RunRecord]) -> list[str]:
        """Runs this replica holds the lease of: load those not loaded yet and recover them (a run
        taken over); the names of those."""
        async with self._adopting:
            fresh = [await self._load_run(run) for run in runs if run.key not in self.runs]
            if fresh:
                log.warning("taking over %d run(s): %s", len(fresh), [e.run.name for e in fresh])
                if self.on_takeover is not None:
                    await self.on_takeover(fresh)
            return [e.run.name for e in fresh]

    async def _load_run(self, run: RunRecord) -> RunEntry:
        entry = RunEntry(run)
        for rec in sorted(await self.store.get_actions(run.project, run.domain, run.name), key=lambda a: a.seq):
            entry.add(rec)
            entry.published.put(rec.to_pb())
            self._seq = max(self._seq, rec.seq)  # a run taken over: its next change after its last one
        return self.runs.setdefault(run.key, entry)  # a concurrent load of the same run wins once

    async def get(self, key: RunKey) -> RunEntry | None:
        entry = self.runs.get(key)
        if entry is None:
            if key in self._reserved:
                return None  # being created: it exists once CreateRun has stored it
            run = await self.store.get_run(*key)
            if run is None:
                return None
            if self.replica is not None and key not in self.runs and not await self._finished(run):
                if not await self.replica.claim(key):
                    raise await self.replica.elsewhere(key)
                await self.adopt([run])
            entry = self.runs.get(key) or await self._load_run(run)
            self._evict()
        return entry

    async def _finished(self, run: RunRecord) -> bool:
        root = next((a for a in await self.store.get_actions(*run.key) if a.name == "a0"), None)
        return root is not None and root.terminal

    def _evict(self, keep: int = 256, settle: float = 60.0, budget: int = FINISHED_ACTIONS,
               quiet: float = 5.0) -> None:
        """Drop finished runs nobody watches from memory, oldest first: beyond `keep` runs those
        that ended `settle` seconds ago, and, while the finished runs hold more than `budget`
        actions, those that ended `quiet` seconds ago (a backend that ran a few runs of 10,000
        children would otherwise hold them all). They load again from the store when asked for.
        A run is finished when its root is: the executor ends a root only after everything
        under it."""
        import time

        now = time.time()
        finished = []
        for key, entry in self.runs.items():
            root = entry.actions.get("a0")
            if root is not None and root.terminal and not entry.subscribers:
                finished.append((root.ended_at, key, len(entry.actions)))
        finished.sort()
        held = sum(n for _, _, n in finished)
        extra = len(finished) - keep
        for ended, key, count in finished:
            if now - ended <= quiet or (held <= budget and (extra <= 0 or now - ended <= settle)):
                break
            del self.runs[key]
            held -= count
            extra -= 1

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # -- changes --------------------------------------------------------------------------------

    def reserve(self, key: RunKey) -> bool:
        """Claim a run name for one CreateRun until it `release`s it: False when the run is live
        in memory or another creation holds the name. Synchronous, so of two concurrent creations
        of one name exactly one gets it (the caller still asks the store about finished runs)."""
        if key in self.runs or key in self._reserved:
            return False
        self._reserved.add(key)
        return True

    def release(self, key: RunKey) -> None:
        self._reserved.discard(key)

    def detach(self, key: RunKey) -> bool:
        """Take a run out of memory for DeleteRun and hold its name (as `reserve` does) until
        `release`: meanwhile it cannot be found or created again. False when a creation or
        another delete holds the name."""
        if key in self._reserved:
            return False
        self._reserved.add(key)
        self.runs.pop(key, None)
        return True

    async def create_run(self, run: RunRecord, root: ActionRecord, tick: TickRecord | None = None) -> RunEntry:
        """Store the run and its root action, then show it: whole or not at all. A run a trigger
        fires comes with its `tick`, written in the same transaction: a tick fired already raises
        `TickFired` and stores nothing; a name another replica is creating (it holds the new run's
        lease) raises `RunExists`, as a name in use does."""
        project, domain, name = run.key
        if run.key in self.runs:
            raise RunExists(f"run {name!r} already exists in {project}/{domain}; pick another run name")
        root.seq = self.next_seq()
        msg = root.to_pb()  # first: a record that cannot be sent is not kept
        entry = RunEntry(run)
        entry.add(root)
        fired = f"trigger {tick.name} of {tick.task_name} fired its tick {tick.tick} already" if tick else ""
        # With replicas the run is leased to this one in the same transaction; False: another
        # replica creates or drives a run of this name (a tick both fired at once).
        lease = self.replica.lease_terms() if self.replica is not None else None
        if tick is None:
            if not await self.store.put_run(run, root, lease):
                raise RunExists(f"run {name!r} already exists in {project}/{domain}: another backend replica is "
                                "creating or driving a run of this name; pick another run name")
        elif not await self.store.put_triggered_run(run, root, tick, lease):
            raise TickFired(fired)
        self.runs[run.key] = entry  # visible only once committed (`get` skips reserved names)
        self._evict()
        self._publish(entry, [msg])
        return entry

    def record(self, entry: RunEntry, recs: Iterable[ActionRecord]) -> "asyncio.Future":
        """Record changes of `recs` (already mutated): new seq, durable write, then publish."""
        recs = list(recs)
        for rec in recs:
            rec.seq = self.next_seq()
        msgs = [r.to_pb() for r in recs]  # first: a record that cannot be sent is not kept
        for rec in recs:
            entry.add(rec)
        fut = self.store.put_actions_nowait(recs)
        fut.add_done_callback(lambda f: None if f.exception() else self._publish(entry, msgs))
        return fut

    def _publish(self, entry: RunEntry, msgs: list[pb.Action]) -> None:
        for msg in msgs:
            current = entry.published.seq_of(msg.id.name)
            if current is not None and current >= msg.seq:
                continue
            entry.published.put(msg)
            for sub in entry.subscribers:
                if not sub.wants(msg):
                    continue
                if sub.deliver is not None:
                    sub.deliver(msg)
                else:
                    sub.inbox.put_nowait(msg)
            if msg.id.name == "a0":
                for inbox in self._run_watchers:
                    inbox.put_nowait(entry)
                if msg.phase in _TERMINAL:
                    self._evict()

    # -- watching -------------------------------------------------------------------------------

    def subscribe(self, entry: RunEntry, parent: str, since_seq: int, terminal_only: bool = False,
                  deliver: Callable[[pb.Action], None] | None = None) -> tuple[Subscriber, list[pb.Action]]:
        """Register a watcher and return its snapshot (changes after since_seq), atomically."""
        sub = Subscriber(parent, asyncio.Queue(), terminal_only, deliver)
        entry.subscribers.add(sub)
        return sub, entry.published.after(since_seq, sub.wants)

    def unsubscribe(self, entry: RunEntry, sub: Subscriber) -> None:
        entry.subscribers.discard(sub)

    def watch_runs(self) -> asyncio.Queue:
        inbox: asyncio.Queue = asyncio.Queue()
        self._run_watchers.add(inbox)
        return inbox

    def unwatch_runs(self, inbox: asyncio.Queue) -> None:
        self._run_watchers.discard(inbox)
