"""The fault-injection matrix: SIGKILL of the backend, the fork server, a reusable worker, an
action, and cuts of the client's watch connection, at random points of a fan-out of 50 children,
with and without retries.

Each trial is one run on a backend of its own (a fresh data dir) reached by the client through a
TCP proxy: `fan` (or `fan_r`, retries=3) gathers 50 small children (`leaf`, or reusable-worker
`warm_leaf`; each with or without retries) that sleep 0.15-0.6 s. While the run goes on, the
trial injects faults one after another at random moments (random.Random(seed)) until it has
injected FAULTS_PER_TRIAL of them (the last child is held open until then, so no run ends first,
whatever the seed), then checks:

- the run ends in the right phase with each child's output: SUCCEEDED with every output whenever
  only the infrastructure was hit (backend, fork server, watch) or the kills of actions stayed
  within the retry policy; a trial without retries may end with one action killed on purpose,
  and then FAILED is right only if the failed child is the killed one, with a lost/killed error;
- no child's body started more often than its policy allows (each notes its starts in a shared
  log), nor more often than the faults that hit it explain (a backend or fork-server death never
  starts anything twice; a kill hits the bodies open in the killed process, and those that ended
  in it just before: their outputs may not have been stored yet);
- every trial injected its FAULTS_PER_TRIAL faults;
- after a SIGKILL of the backend its helpers (fork server, templates, idle workers) are gone
  before the next start, and after the final normal stop no process of the data dir is left.

FAULT_SEED (env) changes the seed; FAULT_TRIALS the number of trials. The summary is printed
(run pytest with -s to see it).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import psutil
import pytest
from _backend_fixture import BackendProcess

import flyte_jupyter as flyte
from faults.flows import fan
from faults.harness import (
    Starts,
    TcpProxy,
    infrastructure_of,
    kill,
    processes_of,
    unix_socket_inodes,
    wait_for,
)

SEED = int(os.environ.get("FAULT_SEED", "20240617"))
TRIALS = int(os.environ.get("FAULT_TRIALS", "12"))
CHILDREN = 50
FAULTS_PER_TRIAL = 10
INJECT_SECONDS = 90.0  # at most this long to find targets for a trial's faults
# (child kind, retries): every combination, round-robin over the trials.
SHAPES = [("plain", 0), ("plain", fan.RETRIES), ("warm", 0), ("warm", fan.RETRIES)]
LOST_KINDS = {"ProcessError", "ActionLost"}


@dataclasses.dataclass
class Trial:
    index: int
    kind: str
    retries: int
    final_kill: bool  # without retries: end the faults with one action kill (may fail the run)
    faults: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    skipped: int = 0
    kills: collections.Counter = dataclasses.field(default_factory=collections.Counter)  # body -> kills
    log: list[str] = dataclasses.field(default_factory=list)  # what was done when, for the problems
    phase: str = ""
    expected: str = ""
    outputs_ok: bool = False
    max_starts: int = 0
    seconds: float = 0.0
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def injected(self) -> int:
        return sum(self.faults.values())


class Injector:
    """Applies faults to one trial's backend; `kinds` are the ones this trial may use."""

    def __init__(self, trial: Trial, backend: BackendProcess, proxy: TcpProxy, log_dir: Path, rng: random.Random) -> None:
        self.trial = trial
        self.backend = backend
        self.proxy = proxy
        self.log_dir = log_dir
        self.rng = rng
        self.destructive_left = fan.RETRIES if trial.retries else 0

    # Each returns True when it hit something.

    def backend_kill(self) -> bool:
        data = self.backend.data_dir
        self.trial.log.append(f"{time.time():.3f} killed the backend")
        self.backend.kill()
        if not wait_for(lambda: not infrastructure_of(data), 5.0):
            self.trial.problems.append("helpers outlived a SIGKILLed backend: "
                                       + "; ".join(p.describe() for p in infrastructure_of(data)))
        time.sleep(self.rng.uniform(0.0, 0.3))
        self.backend.start()
        return True

    def forkserver_kill(self) -> bool:
        assert self.backend.proc is not None
        try:
            children = psutil.Process(self.backend.proc.pid).children()
        except psutil.Error:
            return False
        zygotes = [c for c in children if "plugins.local.zygote" in " ".join(_cmdline(c))]
        self.trial.log.append(f"{time.time():.3f} killed fork servers {[z.pid for z in zygotes]}")
        return any([kill(z.pid) for z in zygotes])

    def watch_cut(self) -> bool:
        return self.proxy.cut() > 0

    def action_kill(self) -> bool:
        running = Starts.read(self.log_dir).running()
        if not self.trial.retries:
            running.pop("a0", None)
        victims = sorted((name, pid) for name, pid in running.items() if self._ours(pid))
        if not victims:
            return False
        name, pid = self.rng.choice(victims)
        return self._kill_body(pid, f"action {name}")

    def worker_kill(self) -> bool:
        a0 = {pid for pid, _ in Starts.read(self.log_dir).starts.get("a0", [])}
        unix = unix_socket_inodes()
        workers = sorted(p.pid for p in processes_of(self.backend.data_dir)
                         if p.leader and p.pid not in a0 and "plugins.local" in p.cmdline
                         and any(t.startswith("socket:[") and t[8:-1] in unix for t in p.fds.values()))
        if not workers:
            return False
        return self._kill_body(self.rng.choice(workers), "worker")

    def _kill_body(self, pid: int, what: str) -> bool:
        """SIGKILL `pid`, then name the bodies it hit from the log (final for a dead pid): those
        open there, or just ended there (`Starts.hit_by`). None: it was idle, or had not begun."""
        killed_at = time.time()
        if not self._ours(pid) or not kill(pid):
            return False
        wait_for(lambda: not _alive(pid), 2.0)
        victims = Starts.read(self.log_dir).hit_by(pid, killed_at)
        for name in victims:
            self.trial.kills[name] += 1
        self.trial.log.append(f"{time.time():.3f} killed {what} pid {pid}: bodies {victims}")
        return True

    def _ours(self, pid: int) -> bool:
        """Never kill a recycled pid: the process must still write into this trial's data dir."""
        try:
            return os.readlink(f"/proc/{pid}/fd/1").startswith(str(self.backend.data_dir))
        except OSError:
            return False

    def pick(self) -> list[str]:
        """The fault kinds to try now, in order (the first that finds a target is applied)."""
        kinds = {"forkserver": 3, "watch": 3}
        if self.trial.faults["backend"] < 3:
            kinds["backend"] = 2
        if self.destructive_left > 0:
            kinds["action"] = 2
            if self.trial.kind == "warm":
                kinds["action"], kinds["worker"] = 1, 3 if self.trial.faults["worker"] else 8
        names = list(kinds)
        first = self.rng.choices(names, weights=[kinds[k] for k in names])[0]
        rest = [k for k in names if k != first]
        self.rng.shuffle(rest)
        return [first, *rest]

    def apply(self, kind: str) -> bool:
        hit = {"backend": self.backend_kill, "forkserver": self.forkserver_kill, "watch": self.watch_cut,
               "action": self.action_kill, "worker": self.worker_kill}[kind]()
        if hit:
            self.trial.faults[kind] += 1
            if kind in ("action", "worker"):
                self.destructive_left -= 1
        return hit


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def _run_trial(trial: Trial, root: Path, store_url: str | None) -> None:
    rng = random.Random(SEED * 1000 + trial.index)
    data = root / f"trial{trial.index}"
    shutil.rmtree(data, ignore_errors=True)
    log_dir = data / "shared"
    log_dir.mkdir(parents=True)
    backend = BackendProcess(data / "backend", extra_args=["--max-parallelism", "8"], store_url=store_url)
    began = time.monotonic()
    backend.start()
    proxy = TcpProxy(backend.port)
    try:
        flyte.init_from_config(str(backend.client_yaml), endpoint=f"127.0.0.1:{proxy.port}")
        seconds = [round(rng.uniform(0.15, 0.6), 3) for _ in range(CHILDREN)]
        kind = trial.kind + ("_r" if trial.retries else "")
        task = fan.fan_r if trial.retries else fan.fan
        hold = log_dir / f"hold-c{CHILDREN - 1}"  # the last child ends only once every fault is in
        hold.touch()
        try:
            run = flyte.with_runcontext(mode="remote").run(task, seconds=seconds, log_dir=str(log_dir), kind=kind)
            _inject(trial, Injector(trial, backend, proxy, log_dir, rng), run, rng)
        finally:
            hold.unlink()
        run.wait(timeout=150)
        _check_run(trial, run, backend, log_dir)
    finally:
        proxy.close()
        flyte.init()
        _check_teardown(trial, backend)
        trial.seconds = time.monotonic() - began


def _inject(trial: Trial, injector: Injector, run: Any, rng: random.Random) -> None:
    """FAULTS_PER_TRIAL faults at random moments, the last one an action kill in a `final_kill`
    trial. A moment where no kind finds a target (every child launched and the fork server gone,
    the client's watch reconnecting) is skipped and another tried after a pause: the held child
    keeps the run going for as long as that takes (within INJECT_SECONDS)."""
    deadline = time.monotonic() + INJECT_SECONDS
    time.sleep(rng.uniform(0.2, 0.6))
    while trial.injected < FAULTS_PER_TRIAL and not run.phase.terminal and time.monotonic() < deadline:
        if trial.final_kill and trial.injected == FAULTS_PER_TRIAL - 1:
            hit = injector.action_kill()
            if hit:
                trial.faults["action"] += 1
        else:
            hit = any(injector.apply(k) for k in injector.pick())
        if not hit:
            trial.skipped += 1
        time.sleep(rng.uniform(0.1, 0.45))
    if trial.injected < FAULTS_PER_TRIAL:
        trial.problems.append(f"only {trial.injected} of {FAULTS_PER_TRIAL} faults injected ({trial.skipped} "
                              f"moments found no target; the run ended {run.phase.value})")


def _check_run(trial: Trial, run: Any, backend: BackendProcess, log_dir: Path) -> None:
    problems = trial.problems
    expected = [i * i for i in range(CHILDREN)]
    trial.phase = run.phase.value
    summary, actions = asyncio.run(backend.client().get_run(run.name))
    children = [a for a in actions if a.parent == "a0"]
    failed = [a for a in children if a.phase.value in ("FAILED", "TIMED_OUT")]
    may_fail = trial.final_kill and trial.faults["action"] > 0
    trial.expected = "SUCCEEDED or FAILED" if may_fail else "SUCCEEDED"
    if run.phase is flyte.Phase.SUCCEEDED:
        trial.outputs_ok = run.outputs() == expected
        if not trial.outputs_ok:
            problems.append(f"wrong outputs: {run.outputs()}")
        if len(children) != CHILDREN or any(a.phase is not flyte.Phase.SUCCEEDED for a in children):
            problems.append(f"a succeeded run with children not all succeeded: {[(a.name, a.phase.value) for a in children]}")
    elif may_fail and run.phase is flyte.Phase.FAILED:
        # The one killed child failed with a lost process; the others succeeded or were aborted.
        kinds = {a.error.kind if a.error else "" for a in failed}
        if len(failed) != 1 or not kinds <= LOST_KINDS:
            problems.append(f"the run failed, but not by the killed action alone: {[(a.name, a.error) for a in failed]}")
        others = {a.phase.value for a in children if a not in failed}
        if not others <= {"SUCCEEDED", "ABORTED"}:
            problems.append(f"children of the failed run ended {others}")
        trial.outputs_ok = True
    else:
        problems.append(f"run ended {run.phase.value}, expected {trial.expected}: "
                        f"{[(a.name, a.phase.value, a.error) for a in actions if a.phase.value != 'SUCCEEDED'][:5]}")
    not_ended = [a.name for a in actions if not a.phase.terminal]
    if not_ended:
        problems.append(f"actions never ended: {not_ended}")
    limit = fan.RETRIES + 1 if trial.retries else 1
    too_many = [(a.name, a.attempts) for a in actions if a.attempts > limit]
    if too_many:
        problems.append(f"attempts beyond the retry policy: {too_many}")
    # Starts of every body: within the policy, and explained by the faults that hit it.
    starts = Starts.read(log_dir)
    for name, began in starts.starts.items():
        trial.max_starts = max(trial.max_starts, len(began))
        allowed = min(limit, 1 + trial.kills[name])
        if len(began) > allowed:
            problems.append(f"{name} started {len(began)} times (policy allows {limit}, faults explain {allowed}): {began}")
    if run.phase is flyte.Phase.SUCCEEDED:
        missing = [f"c{i}" for i in range(CHILDREN) if f"c{i}" not in starts.starts]
        if missing:
            problems.append(f"children succeeded without their body running: {missing}")
    assert backend.proc is not None
    # One fork server per backend at most (a worker the backend spawned itself while its fork
    # server was down is a worker, not a second fork server).
    zygotes = [p for p in infrastructure_of(backend.data_dir)
               if p.ppid == backend.proc.pid and "plugins.local.zygote" in p.cmdline]
    if len(zygotes) > 1:
        problems.append(f"{len(zygotes)} fork servers: {[p.describe() for p in zygotes]}")


def _check_teardown(trial: Trial, backend: BackendProcess) -> None:
    """A normal stop after the run ended leaves no process of the data dir at all."""
    backend.stop()
    if not wait_for(lambda: not processes_of(backend.data_dir), 5.0):
        left = processes_of(backend.data_dir)
        trial.problems.append("left behind after the stop: " + "; ".join(p.describe() for p in left))
        for p in left:
            kill(p.pid)
    backend.kill_actions()


def _table(trials: list[Trial]) -> str:
    kinds = ["backend", "forkserver", "worker", "action", "watch"]
    head = f"{'trial':>5} {'children':>9} {'retries':>7} " + " ".join(f"{k:>10}" for k in kinds) + \
        f" {'faults':>6} {'skipped':>7} {'expected':>19} {'phase':>9} {'outputs':>7} {'max starts':>10} {'s':>5}  problems"
    lines = [head, "-" * len(head)]
    for t in trials:
        lines.append(f"{t.index:>5} {t.kind:>9} {t.retries:>7} " + " ".join(f"{t.faults[k]:>10}" for k in kinds)
                     + f" {t.injected:>6} {t.skipped:>7} {t.expected:>19} {t.phase:>9} {'ok' if t.outputs_ok else '-':>7}"
                     + f" {t.max_starts:>10} {t.seconds:>5.1f}  {len(t.problems)}")
    total: collections.Counter = collections.Counter()
    for t in trials:
        total.update(t.faults)
    phases = collections.Counter(t.phase for t in trials)
    lines.append("-" * len(head))
    lines.append(f"{'all':>5} {len(trials):>9} {'':>7} " + " ".join(f"{total[k]:>10}" for k in kinds)
                 + f" {sum(total.values()):>6} {sum(t.skipped for t in trials):>7}   runs: "
                 + ", ".join(f"{n} {p}" for p, n in sorted(phases.items()))
                 + f"; accounted for: {sum(1 for t in trials if not t.problems)}/{len(trials)}")
    return "\n".join(lines)


@pytest.mark.timeout(600)
def test_fault_matrix(tmp_path: Path, new_store_url: Callable[[], str | None]) -> None:
    trials = []
    for index in range(TRIALS):
        kind, retries = SHAPES[index % len(SHAPES)]
        final_kill = not retries and (index // len(SHAPES)) % 2 == 1
        trials.append(Trial(index, kind, retries, final_kill))
    started = time.monotonic()
    for trial in trials:
        try:
            _run_trial(trial, tmp_path, new_store_url())
        except Exception as exc:  # noqa: BLE001 - recorded, the other trials still run
            trial.problems.append(f"{type(exc).__name__}: {exc}")
    print(f"\nfault matrix: seed {SEED}, {TRIALS} trials, {CHILDREN} children each, "
          f"{time.monotonic() - started:.0f} s\n{_table(trials)}")
    for trial in trials:
        for problem in trial.problems:
            print(f"trial {trial.index}: {problem}")
        if trial.problems:
            print(f"trial {trial.index} faults:\n  " + "\n  ".join(trial.log))
    assert all(not t.problems for t in trials), "some runs are not accounted for (see the problems above)"
