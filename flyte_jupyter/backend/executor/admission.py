"""Admission by requested resources, as the kube-scheduler binds pods to a node.

The embedded backend is one node: its *capacity* is the machine's cores and memory (backend.yaml
`capacity: {cpu: 2, memory: 16Gi}` overrides it). An action is admitted when its CPU and memory
*requests* fit what the running actions have not requested yet, so thirty children that request
the defaults (cpu 50m, memory 200Mi; Flyte's sandbox asks 100m of CPU, see config.py) run
at once on two cores, while thirty that request `cpu=1` run two at a time. A task's request is
what its spec asks for (the project-domain defaults are filled into the spec when it is stored,
see services/context.py), else `default_requests` of backend.yaml.

The queue is first-come first-served among the requests that fit now: an action too large for
the capacity free at the moment does not hold back a smaller one behind it (as pods that do not
fit a node do not block the scheduling of others). Queued actions are kept in one FIFO per
distinct request, so choosing the next costs a look at each distinct request, not at every action.
An explicit `max_parallelism` bounds how many actions run at once on top of that, and a reusable
environment runs at most `replicas` of its actions at once (one per warm worker, as Flyte 2
dispatches them to its replicas): the rest wait for a worker instead of each being forked.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
from typing import Any

from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.quantities import format_memory, parse_cpu, parse_memory


@dataclasses.dataclass(frozen=True)
class Request:
    """CPU (in thousandths of a core, as Kubernetes counts "100m") and memory (bytes); for an action
    of a reusable environment, that environment (`pool`) and how many of its actions may run at once
    (`replicas`: its replicas times each worker's concurrency)."""

    millicpu: int = 0
    memory: int = 0
    pool: tuple = ()
    replicas: int = 0

    def __str__(self) -> str:
        return f"cpu {format_cpu(self.millicpu)}, memory {format_memory(self.memory)}"


NOTHING = Request()


def format_cpu(millicpu: int) -> str:
    """Cores as Kubernetes writes them: "2", "1.5", "100m"."""
    if millicpu % 1000 == 0:
        return str(millicpu // 1000)
    return f"{millicpu}m"


def parse_request(cpu: Any, memory: Any, what: str) -> Request:
    """A Request from two quantities ("500m", "2Gi"); a ValueError naming `what` and the fix."""
    try:
        cores = parse_cpu(str(cpu)) if cpu not in (None, "") else 0.0
        size = parse_memory(str(memory)) if memory not in (None, "") else 0
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    return Request(int(round((cores or 0.0) * 1000)), int(size or 0))


def request_of(spec: pb.TaskSpec | None, defaults: Request) -> Request:
    """What one attempt of `spec` requests: each of cpu and memory as its spec asks (the request of
    a (request, limit) pair, else the quantity: Kubernetes takes the limit as the request when only
    a limit is given), else the backend's default request. A spec the catalog no longer has
    requests the defaults."""
    if spec is None:
        return defaults
    res, asked = spec.resources, spec.requests
    cpu_text, memory_text = asked.cpu or res.cpu, asked.memory or res.memory
    cpu = parse_cpu(cpu_text) if cpu_text else None
    memory = parse_memory(memory_text) if memory_text else None
    millicpu = int(round(cpu * 1000)) if cpu is not None else defaults.millicpu
    memory = memory if memory is not None else defaults.memory
    pool: tuple = ()
    replicas = 0
    if spec.HasField("reuse") and spec.reuse.replicas > 0:  # the local plugin's pool: env and version
        # A worker runs up to `concurrency` actions at once within the environment's resources: each
        # action holds that share of them, and the pool takes replicas x concurrency actions.
        share = max(1, spec.reuse.concurrency)
        millicpu, memory = -(-millicpu // share), -(-memory // share)
        pool, replicas = (spec.id.project, spec.id.domain, spec.environment, spec.id.version), spec.reuse.replicas * share
    return Request(millicpu, memory, pool, replicas)


class Admission:
    """The capacity of the machine and what the admitted actions hold of it."""

    def __init__(self, capacity: Request, defaults: Request, max_running: int = 0) -> None:
        self.capacity = capacity
        self.defaults = defaults
        self.max_running = max_running  # 0: no bound but the capacity
        self.millicpu = 0
        self.memory = 0
        self.running = 0
        self._pools: dict[tuple, int] = {}  # reusable environment -> its actions holding a request

    @property
    def used(self) -> Request:
        return Request(self.millicpu, self.memory)

    def fits(self, req: Request) -> bool:
        if self.max_running and self.running >= self.max_running:
            return False
        if req.pool and self._pools.get(req.pool, 0) >= req.replicas:
            return False
        return (self.millicpu + req.millicpu <= self.capacity.millicpu
                and self.memory + req.memory <= self.capacity.memory)

    def take(self, req: Request) -> None:
        """Hold `req` (also over capacity: an attempt found running after a restart holds what it
        holds, and nothing new is admitted until enough of it is given back)."""
        self.millicpu += req.millicpu
        self.memory += req.memory
        self.running += 1
        if req.pool:
            self._pools[req.pool] = self._pools.get(req.pool, 0) + 1

    def give(self, req: Request) -> None:
        self.millicpu -= req.millicpu
        self.memory -= req.memory
        self.running -= 1
        if req.pool:
            left = self._pools[req.pool] - 1
            if left:
                self._pools[req.pool] = left
            else:
                del self._pools[req.pool]

    def refusal(self, task: str, req: Request) -> str | None:
        """Why an action of `task` requesting `req` could never start here, or None when it can."""
        over = [kind for kind, asked, has in (("cpu", req.millicpu, self.capacity.millicpu),
                                               ("memory", req.memory, self.capacity.memory)) if asked > has]
        if not over:
            return None
        return (f"task {task} requests {req}, more {' and '.join(over)} than this backend's whole capacity "
                f"({self.capacity}); it could never start. Request at most that in the task's "
                f"Resources(...), or raise `capacity` in the backend's config file (backend.yaml, "
                f"e.g. capacity: {{cpu: {format_cpu(max(req.millicpu, self.capacity.millicpu))}, "
                f"memory: {format_memory(max(req.memory, self.capacity.memory))}}}) if the machine has it")


class ReadyQueue:
    """Actions due to run, oldest first among those whose request fits (one FIFO per request)."""

    def __init__(self) -> None:
        self._by_request: dict[Request, collections.deque[tuple[int, Any]]] = {}
        self._seq = itertools.count()
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def push(self, req: Request, item: Any) -> None:
        self._by_request.setdefault(req, collections.deque()).append((next(self._seq), item))
        self._len += 1

    def pop_fitting(self, admission: Admission) -> tuple[Request, Any] | None:
        """The oldest item whose request fits now, removed; None when none fits."""
        best: Request | None = None
        best_seq = -1
        for req, items in self._by_request.items():
            if (best is None or items[0][0] < best_seq) and admission.fits(req):
                best, best_seq = req, items[0][0]
        if best is None:
            return None
        items = self._by_request[best]
        _, item = items.popleft()
        if not items:
            del self._by_request[best]
        self._len -= 1
        return best, item

