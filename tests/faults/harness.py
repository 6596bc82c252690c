"""What the fault matrix needs besides the backend fixture: a TCP proxy to cut the client's watch,
process scans of one data directory, the starts log, and the faults themselves.

A forked action's command line is its fork server's (`python -m ...plugins.local.zygote`), so a
process "of a data dir" is found by any of: its command line, its working directory, or an open
file under that directory (every process the backend starts writes its stdout there).
"""

from __future__ import annotations

import collections
import dataclasses
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import psutil

# -- a TCP proxy for the client's connection -----------------------------------------------------


class TcpProxy:
    """127.0.0.1:port -> 127.0.0.1:target, byte for byte; `cut()` drops every open connection (the
    client sees its streams break, as on a network cut, and reconnects). With `more_ports`, a new
    connection goes to the first of the targets that accepts it (a service in front of replicas)."""

    def __init__(self, target_port: int, *more_ports: int) -> None:
        self.target_port = target_port
        self.targets = (target_port, *more_ports)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = None
            for port in self.targets:
                try:
                    upstream = socket.create_connection(("127.0.0.1", port), timeout=2)
                    upstream.settimeout(None)
                    break
                except OSError:
                    continue
            if upstream is None:
                client.close()  # the backends are down: the client retries
                continue
            with self._lock:
                self._conns.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                self._drop(s)

    def _drop(self, s: socket.socket) -> None:
        with self._lock:
            self._conns.discard(s)
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def cut(self) -> int:
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            self._drop(s)
        return len(conns) // 2

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        self.cut()


# -- processes of a data dir ---------------------------------------------------------------------


def _fds(pid: int) -> dict[int, str]:
    out = {}
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for name in names:
        try:
            out[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
    return out


@dataclasses.dataclass
class Proc:
    pid: int
    ppid: int
    cmdline: str
    fds: dict[int, str]
    created: float
    leader: bool

    @property
    def stdout(self) -> str:
        return self.fds.get(1, "")

    def describe(self) -> str:
        return f"pid {self.pid} (parent {self.ppid}) {self.cmdline[:90]!r} stdout {self.stdout}"


def processes_of(data_dir: Path) -> list[Proc]:
    """Live processes (not zombies, not this one) whose command line, working directory or open
    files name `data_dir`."""
    root = str(data_dir)
    me = os.getpid()
    found = []
    for p in psutil.process_iter(["pid", "ppid", "cmdline", "status", "create_time"]):
        try:
            if p.pid == me or p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            cmd = " ".join(p.info["cmdline"] or [])
            fds = _fds(p.pid)
            try:
                cwd = p.cwd()
            except (psutil.Error, OSError):
                cwd = ""
            if root in cmd or cwd.startswith(root) or any(t.startswith(root) for t in fds.values()):
                found.append(Proc(p.pid, p.info["ppid"], cmd, fds, p.info["create_time"], os.getsid(p.pid) == p.pid))
        except (psutil.Error, OSError):
            continue
    return found


def infrastructure_of(data_dir: Path) -> list[Proc]:
    """The backend's helper processes now: fork servers, templates and idle workers (their stdout
    is the data dir's zygote.log or workers.log; an attempt's is its own log file)."""
    helpers = {str(data_dir / "zygote.log"), str(data_dir / "workers.log")}
    return [p for p in processes_of(data_dir) if p.stdout in helpers]


def unix_socket_inodes() -> set[str]:
    """Inodes of the machine's unix sockets (a reusable worker holds one to its backend)."""
    try:
        with open("/proc/net/unix") as fh:
            return {line.split()[6] for line in list(fh)[1:] if len(line.split()) > 6}
    except OSError:
        return set()


def wait_for(predicate: Any, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def kill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
        return True
    except (ProcessLookupError, PermissionError):
        return False


# -- the starts log ------------------------------------------------------------------------------


@dataclasses.dataclass
class Starts:
    """What `faults.flows.fan.note` wrote: per action name, its starts and ends (pid, attempt),
    and when each body on a pid last ended."""

    starts: dict[str, list[tuple[int, int]]]
    ends: dict[str, list[tuple[int, int]]]
    ended_at: dict[tuple[str, int], float] = dataclasses.field(default_factory=dict)  # (name, pid) -> time

    @classmethod
    def read(cls, log_dir: Path) -> "Starts":
        starts: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
        ends: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
        ended_at: dict[tuple[str, int], float] = {}
        try:
            text = (log_dir / "starts.log").read_text()
        except OSError:
            text = ""
        for line in text.splitlines():
            parts = line.split()
            if len(parts) != 5:
                continue
            what, name, pid, attempt = parts[0], parts[1], int(parts[2]), int(parts[3])
            (starts if what == "start" else ends)[name].append((pid, attempt))
            if what == "end":
                ended_at[(name, pid)] = float(parts[4])
        return cls(starts, ends, ended_at)

    def hit_by(self, pid: int, killed_at: float, grace: float = 2.0) -> list[str]:
        """The bodies a SIGKILL of `pid` at `killed_at` may make run again: those open on it, and
        those that ended on it less than `grace` seconds before (a body notes its end before its
        process stores the outputs: killed in between, the attempt is lost and retried)."""
        recent = [name for (name, on), at in self.ended_at.items() if on == pid and killed_at - grace <= at]
        return list(dict.fromkeys([*self.open_on(pid), *recent]))

    def open_on(self, pid: int) -> list[str]:
        """The bodies that started in process `pid` and have not ended there."""
        out = []
        for name, began in self.starts.items():
            ended = collections.Counter(self.ends.get(name, []))
            for entry in began:
                if entry[0] != pid:
                    continue
                if ended[entry]:
                    ended[entry] -= 1
                else:
                    out.append(name)
        return out

    def running(self) -> dict[str, int]:
        """Action name -> pid of a body that started and has not ended (as far as the log says)."""
        out = {}
        for name, began in self.starts.items():
            done = collections.Counter(self.ends.get(name, []))
            for pid, attempt in reversed(began):
                if done[(pid, attempt)]:
                    done[(pid, attempt)] -= 1
                    continue
                out[name] = pid
                break
        return out
