"""Backend replicas on one PostgreSQL: each unfinished run is owned by one replica, through a lease
row (`run_leases`) that its owner renews every `RENEW` seconds for `TTL` seconds, in the database's
clock. Only the owner drives a run (launches, records, publishes); another replica passes an
action's call on to the owner (`forward.py`), and answers an admin client's call about it with
UNAVAILABLE naming the owner (the SDK retries calls and watches for minutes). When a replica dies its leases run out; the others claim expired leases every `SCAN`
seconds (and at once when asked about such a run), load the run's committed state, and recover it
as a restarted backend would: collected, reattached or retried by its policy, never started twice.
Takeover therefore takes at most TTL + SCAN seconds (12 s).

A replica that cannot renew for `TTL - RENEW` seconds (the database is unreachable from it) exits
before its leases expire: it can never act on a run another replica took over (self-fencing). Its
running actions live on and are adopted by the new owner. With SQLite there is one replica and no
leases (the embedded default is unchanged).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Awaitable, Callable

from flyte_jupyter.backend.store.base import Store
from flyte_jupyter.backend.store.records import LeaseTerms, RunKey, RunRecord

log = logging.getLogger("flyte_jupyter.backend.replicas")

TTL = 10.0
RENEW = 3.0
SCAN = 2.0


class RunElsewhere(Exception):
    """The run is owned by another live replica at `endpoint` (forwarded there, else UNAVAILABLE)."""

    def __init__(self, message: str, endpoint: str = "") -> None:
        super().__init__(message)
        self.endpoint = endpoint


def _replica_id(data_dir: Path) -> str:
    """This replica's name, kept in its data dir: a restarted replica (a crash, a container restart
    in the same pod) claims its own leases back at once instead of waiting for them to expire.
    Replicas therefore need data dirs of their own."""
    path = data_dir / "replica-id"
    try:
        known = path.read_text().strip()
        if known:
            return known
    except OSError:
        pass
    made = f"{os.uname().nodename}-{uuid.uuid4().hex[:12]}"
    tmp = path.with_name(".replica-id.tmp")
    tmp.write_text(made + "\n")
    os.replace(tmp, path)
    return made


class Replica:
    """This backend among its replicas: its id, its leases, and the loops that keep them."""

    def __init__(self, store: Store, endpoint: str, data_dir: Path) -> None:
        self.store = store
        self.endpoint = endpoint
        self.id = _replica_id(data_dir)
        self._tasks: list[asyncio.Task] = []
        self._renewed = time.monotonic()

    async def claim_free(self) -> list[RunRecord]:
        """Every unfinished run no live replica owns (ours from before a restart included), now ours."""
        return await self.store.claim_runs(self.id, self.endpoint, TTL)

    async def claim(self, key: RunKey) -> bool:
        """Take one run over now (a client asked about it) if no live replica owns it."""
        return bool(await self.store.claim_runs(self.id, self.endpoint, TTL, key))

    def lease_terms(self) -> LeaseTerms:
        """The lease of a run this replica creates, written with the run (`Store.put_run`)."""
        return LeaseTerms(self.id, self.endpoint, TTL)

    async def elsewhere(self, key: RunKey) -> RunElsewhere:
        """What to raise for a run another replica drives."""
        lease = await self.store.lease_of(key)
        owner, endpoint = (lease[0], lease[1]) if lease else ("another replica", "")
        return RunElsewhere(f"run {key[2]} is driven by replica {owner} at {endpoint or '?'}; retry (another "
                            "replica takes it over if that one is gone)", "" if endpoint == self.endpoint else endpoint)

    async def logs_elsewhere(self, key: RunKey) -> RunElsewhere | None:
        """For a run that ended: its attempts' logs stay with the replica that drove it last (its
        lease stays too, renewed while that replica lives). What to raise when that is another
        live replica, so TailLogs goes there; None when they are here (or their keeper is gone)."""
        lease = await self.store.lease_of(key)
        if lease is None or lease[0] == self.id or lease[2] <= 0 or not lease[1] or lease[1] == self.endpoint:
            return None
        return RunElsewhere(f"the logs of run {key[2]} are kept by replica {lease[0]} at {lease[1]}", lease[1])

    def start(self, adopt: Callable[[list[RunRecord]], Awaitable[list[str]]]) -> None:
        self._tasks = [asyncio.ensure_future(self._renew_loop()), asyncio.ensure_future(self._scan_loop(adopt))]

    async def stop(self) -> None:
        """Stop the loops and give the leases up, so that another replica takes over at once."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self.store.renew_leases(self.id, -TTL, self.endpoint)
        except Exception:  # noqa: BLE001 - they expire on their own
            log.warning("could not give up the leases of %s; they expire in %.0f s", self.id, TTL)

    async def renew(self) -> None:
        await self.store.renew_leases(self.id, TTL, self.endpoint)
        self._renewed = time.monotonic()

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(RENEW)
            try:
                await self.renew()
            except Exception as exc:  # noqa: BLE001
                late = time.monotonic() - self._renewed
                log.error("renewing the leases of %s failed (%s); last renewed %.1f s ago", self.id, exc, late)
                if late > TTL - RENEW:
                    log.critical("replica %s cannot renew its leases: exiting before they expire", self.id)
                    os._exit(75)

    async def _scan_loop(self, adopt: Callable[[list[RunRecord]], Awaitable[list[str]]]) -> None:
        while True:
            await asyncio.sleep(SCAN)
            try:
                await adopt(await self.claim_free())
            except Exception:  # noqa: BLE001 - the next scan tries again
                log.exception("taking over runs failed")
