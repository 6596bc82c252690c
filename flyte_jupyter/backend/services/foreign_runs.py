"""WatchRuns beside other replicas: the runs they drive, as the database holds them.

A replica's state hub publishes the root changes of the runs it drives; a client watching the runs
of a replicated backend wants every run, whichever replica drives it. Those of the other replicas
are read from the database every `POLL` seconds (only what they committed, so nothing a watcher
sees can be lost): a run whose root changed since the last look is sent again, a new one once it
appears (also one that ended between two looks), a finished one a last time. Runs this replica drives (or took over meanwhile) come from
its hub and are skipped here, so no change is sent twice.
"""

from __future__ import annotations

import time

from flyte_jupyter._internal.runtime.naming import ROOT_ACTION
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter.backend.state import StateHub
from flyte_jupyter.backend.store.records import RunKey

POLL = 0.5


class ForeignRuns:
    """The root changes of runs other replicas drive, found by comparing looks at the database."""

    def __init__(self, hub: StateHub) -> None:
        self.hub = hub
        self._seen: dict[RunKey, int] = {}  # unfinished runs of other replicas -> their root's seq
        self._primed = False
        self._looked = time.time()  # runs created since the last look are read even if finished

    async def changes(self) -> list[pb.Run]:
        """The runs whose root changed since the last call (nothing at the first: it only looks)."""
        out = []
        now = time.time()
        rows = await self.hub.store.live_roots(list(self._seen), self._looked - 5.0)  # 5 s: the replicas' clocks
        self._looked = now
        for run, root, count in rows:
            key = run.key
            if key in self.hub.runs:  # driven (or loaded, finished) here: the hub tells its changes
                self._seen.pop(key, None)
                continue
            if self._seen.get(key) != root.seq:
                if self._primed:
                    msg = pb.Run(id=pb.ActionIdentifier(project=run.project, domain=run.domain, run=run.name,
                                                        name=ROOT_ACTION),
                                 created_at=run.created_at, labels=run.labels, task_name=run.task_name,
                                 action_count=count)
                    msg.root.CopyFrom(root.to_pb())
                    out.append(msg)
                self._seen[key] = root.seq
            if root.terminal and run.created_at <= self._looked - 5.0:
                self._seen.pop(key, None)  # ended and old enough not to be read again
        self._primed = True
        return out
