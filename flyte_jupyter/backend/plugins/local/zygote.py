"""A fork server: one process that has already imported the SDK, forks one child per attempt.

Why: a fresh interpreter that imports flyte_jupyter, protobuf and cloudpickle costs ~150-200 ms;
a fork of a process that already did costs a couple of milliseconds, and each action is still its
own process (own pid, own process group, own memory). gRPC's threads and channels do not survive
fork(): the fork server never imports it, and a template imports it (no channel, no thread) only
for a task known to call other tasks (see `_preload_grpc`); every child opens its own channel after
the fork. Other children that need gRPC import it themselves.

Protocol over the inherited socket (one JSON object per line):
  backend -> zygote  {"id": N, "argv": [...], "env": {...}, "cwd": D, "stdout": F, "stderr": F}
                     {"id": N, "worker": true}  after passing two sockets on the control socket
                                                 (SCM_RIGHTS): fork a reusable worker on them
                                                 (its own, and its actions' link: see `worker`)
                                                 ("grpc": true: it imports grpc before it is ready)
                     {"id": N, "template": true, "argv": [...], "env": {...}, "cwd": D}
                                                 likewise: fork a *template* on the passed socket,
                                                 a fork server of its own that has loaded one code
                                                 bundle's task module (see `_template_child`)
  zygote -> backend  {"ready": true, "pid": P}            once, after the preloads
                     {"id": N, "pid": P} | {"id": N, "error": "..."}
                     {"exit": P, "code": C, "cpu": S, "maxrss": B}
                                                 C = exit code, or -signal; S = CPU seconds
                                                 (user + system), B = peak RSS in bytes (wait4)
  attempt -> backend {"outputs": URI, "code": C, "cpu": S, "maxrss": B}  one datagram on the
                     report socket (the zygote's fourth argument, inherited by templates and
                     attempts), sent once the attempt's outputs.pb or error.pb is in place and
                     just before its `os._exit(C)`: the backend ends the attempt on it instead of
                     waiting for the exit to be reaped through the template (5-25 ms here). The
                     kernel stamps the sender's pid on it (SCM_CREDENTIALS), so an attempt can
                     end only itself; the exit is still reaped and reported as before.
                     {"link": true} with one descriptor (SCM_RIGHTS): an attempt's first nested
                     call asks for a link (`_internal/runtime/worker_link.request`, served by
                     `link.serve_forked`), with the same pid stamped on it.
Spares (`_Spares`): a fork server keeps one child already forked and detached, and hands it an
attempt's request and stdout log's fd (SCM_RIGHTS on a socket pair of their own) instead of
forking then; the reply names the spare's pid. A spare that dies idle is nobody's exit; a new one
is forked once the fork server has had nothing to do for 2 ms. A spare also takes ahead the page
faults attempts were seen to take (`prefault`).

The zygote ends with the backend: it exits when the backend's end of the socket closes, and the
kernel kills it when the backend process dies (PR_SET_PDEATHSIG; the backend's pid is its third
argument, so a zygote whose backend died before the request took exits at once). A template ends
likewise with its zygote. Running children (attempts) are left alone: a restarted backend
reattaches to them. The zygote creates an attempt's stdout log before it forks, so the child holds
it from its first instant (see `attempt.open_log`); a spare holds it from the hand-over on.
"""

from __future__ import annotations

import io
import json
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from typing import cast

from flyte_jupyter._internal.runtime import worker_link
from flyte_jupyter._internal.runtime.entrypoint import PRELOAD_GRPC_ENV
from flyte_jupyter.backend.plugins.local import prefault
from flyte_jupyter.backend.plugins.local.attempt import open_log, preload, preload_grpc
from flyte_jupyter.backend.plugins.local.procfs import die_with_parent


def _detach(keep_closed: list[int]) -> None:
    """In a forked child: a session of its own (so an abort kills its whole group), default
    signal handling instead of the fork server's, and none of the server's sockets."""
    os.setsid()
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for fd in keep_closed:
        try:
            os.close(fd)
        except OSError:
            pass


#: The report socket's fd (see the module docstring), -1 for none; inherited across forks.
_REPORT_FD = -1


def _report_end(code: int, argv: list[str]) -> None:
    """In an attempt whose result is in place: tell the backend (see the module docstring).
    Never blocks: a full socket only means the backend learns the end from the exit, as before."""
    if _REPORT_FD < 0 or "--outputs-path" not in argv:
        return
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    msg = {"outputs": argv[argv.index("--outputs-path") + 1], "code": code,
           "cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
           "maxrss": max(me.ru_maxrss, kids.ru_maxrss) * 1024}
    try:
        socket.socket(fileno=os.dup(_REPORT_FD)).send(json.dumps(msg).encode(), socket.MSG_DONTWAIT)
    except OSError:
        pass


def _child(req: dict, keep_closed: list[int], out_fd: int | None) -> None:
    """In a child forked for this request: become the attempt's process. Never returns."""
    try:
        _detach_attempt(keep_closed)
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        os._exit(1)
    _run_attempt(req, out_fd)


def _detach_attempt(keep_closed: list[int]) -> None:
    """What makes a forked child an attempt's process before it knows which attempt: `_detach`,
    and stdin from /dev/null."""
    _detach(keep_closed)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)


def _run_attempt(req: dict, out_fd: int | None, tell_fd: int = -1) -> None:
    """In a detached child: enter the attempt (working dir, logs, environment) and run the
    entrypoint; with `tell_fd`, tell the fork server afterwards which pages it wrote (see
    `prefault`). Never returns."""
    code = 1
    try:
        from flyte_jupyter.backend.plugins.local.attempt import enter_attempt, order_path_of, run_entrypoint

        enter_attempt(req["cwd"], req["stdout"], req["stderr"], out_fd)
        os.environ.update(req["env"])  # the zygote's environment is the backend's; this is the delta
        cast(io.TextIOWrapper, sys.stdout).reconfigure(line_buffering=True)  # the interpreter's own streams
        cast(io.TextIOWrapper, sys.stderr).reconfigure(line_buffering=True)
        argv = req["argv"]
        if _REPORT_FD >= 0:  # its nested calls may ask for a link on the report socket
            worker_link.offer(_REPORT_FD)
        sys.argv = ["flyte_jupyter.entrypoint", *argv]
        code = run_entrypoint(argv, order_path_of(req["stdout"]))
        _report_end(code, argv)  # its result is in place: the backend need not wait for the exit
        if tell_fd >= 0:
            _tell_written(tell_fd)
    except BaseException:  # noqa: BLE001 - the attempt could not start: report it, then exit
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def _tell_written(tell_fd: int) -> None:
    """After the attempt's end is reported: the pages it wrote, to its fork server (never blocks;
    a lost report only means one teacher fewer)."""
    try:
        socket.socket(fileno=os.dup(tell_fd)).send(prefault.pack(prefault.written()), socket.MSG_DONTWAIT)
    except OSError:
        pass


#: How long a fork server must have had nothing to do before it forks a new spare: in a burst of
#: requests (a fan-out) the spare's hand-over would only add to each fork's cost, and the fork of
#: the next spare would compete with the attempts for the cores.
_REFILL_AFTER = 0.002

#: The largest attempt request a spare takes (argv and the environment's delta, as JSON); a larger
#: one is forked for directly.
_HANDOFF_MAX = 1 << 17


def _spare_child(conn: socket.socket, keep_closed: list[int], pages: prefault.Ranges, tell_fd: int) -> None:
    """In a child forked ahead of demand (see `_Spares`): detach and take the write faults of
    `pages` now, then wait for one attempt's request and its stdout log's fd on `conn`, and become
    that attempt (which tells `tell_fd` what it wrote, if that is not -1). An end of file (the
    fork server went, or gave the request to a fresh fork) ends it quietly. Never returns."""
    try:
        _detach_attempt(keep_closed)
        prefault.prefault(pages)
        data, fds, _, _ = socket.recv_fds(conn, _HANDOFF_MAX, 1)
        conn.close()
        if not data:
            os._exit(0)
        req = json.loads(data)
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        os._exit(1)
    _run_attempt(req, fds[0] if fds else None, tell_fd)


class _Spares:
    """One child forked and detached before any attempt asks for it, so that an attempt's request
    only has to be handed over: the fork and the detaching (about 3.5 ms of a forked action's path
    here) happen while the fork server would otherwise wait. Each attempt is still its own process
    with its own session; a spare serves one attempt and is replaced once the fork server is idle
    (`_REFILL_AFTER`).

    A spare also takes ahead the page faults its attempt would take (`prefault`): the first
    `TEACHERS` spares' attempts report the pages they wrote, on a datagram socket whose far end
    only those spares hold (`hear`); the later spares pre-fault the pages all of them wrote.

    A spare that dies before it is given an attempt was never an attempt: its exit is not reported
    (`owns_exit`). The fork server kills its idle spare when it ends (`close`), and a spare whose
    fork server is killed sees its socket close and exits."""

    TEACHERS = 4

    def __init__(self) -> None:
        self.pid = 0
        self.conn: socket.socket | None = None
        self.unassigned: set[int] = set()  # spares never given an attempt, not yet reaped
        self.reports, self.tell = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.reports.setblocking(False)
        self.heard = 0
        self.retry_at = 0.0  # after a failed fork, no spare before this (time.monotonic())
        self.pages: prefault.Ranges = []  # what every teacher wrote
        self.plan: prefault.Ranges = []  # of that, what a spare pre-faults

    def fds(self) -> list[int]:
        """The fork server's ends of its spares' sockets: closed in every other child."""
        return [*([self.conn.fileno()] if self.conn is not None else []), self.reports.fileno(), self.tell.fileno()]

    def hear(self) -> None:
        """Take the teachers' reports that arrived: the pages every one of them wrote."""
        while True:
            try:
                data = self.reports.recv(prefault.MAX_RANGES * 16 + 1)
            except (BlockingIOError, InterruptedError):
                return
            pages = prefault.unpack(data)
            if pages is None:
                continue
            self.pages = pages if self.heard == 0 else prefault.common(self.pages, pages)
            self.heard += 1
            self.plan = prefault.plan(self.pages)

    def quiet_needed(self) -> float | None:
        """How long the fork server waits for work before it forks a spare (None: it has one)."""
        if self.conn is not None:
            return None
        return max(_REFILL_AFTER, self.retry_at - time.monotonic())

    def refill(self, keep_closed: list[int]) -> None:
        if self.conn is not None or time.monotonic() < self.retry_at:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            self.retry_at = time.monotonic() + 1.0  # out of processes: attempts are forked directly
            return
        if pid == 0:
            closed = [*keep_closed, ours.fileno()]
            if self.heard < self.TEACHERS:  # a teacher keeps `tell` and pre-faults nothing, so that
                closed.remove(self.tell.fileno())  # what it reports is only what its attempt wrote
                _spare_child(theirs, closed, [], self.tell.fileno())
            _spare_child(theirs, closed, self.plan, -1)
        theirs.close()
        ours.setblocking(False)
        self.pid, self.conn = pid, ours
        self.unassigned.add(pid)

    def hand_over(self, req: dict, out_fd: int) -> int:
        """Give the attempt to the idle spare: its pid, or 0 when there is none or it cannot take
        this request (then it is let go, and the caller forks)."""
        conn, pid = self.conn, self.pid
        if conn is None:
            return 0
        self.conn, self.pid = None, 0
        data = json.dumps(req).encode()
        try:
            if len(data) > _HANDOFF_MAX:
                return 0  # too large for one message: it exits on EOF
            socket.send_fds(conn, [data], [out_fd])
        except OSError:  # it is gone
            return 0
        finally:
            conn.close()
        self.unassigned.discard(pid)
        return pid

    def owns_exit(self, pid: int) -> bool:
        """Whether a reaped child was a spare never given an attempt (its exit is no one's)."""
        if pid not in self.unassigned:
            return False
        self.unassigned.discard(pid)
        if pid == self.pid and self.conn is not None:
            self.conn.close()
            self.conn, self.pid = None, 0
        return True

    def close(self) -> None:
        """The fork server ends: its idle spare goes with it, reaped before it exits (so the
        backend, waiting for the fork server or template, waits for the spare too)."""
        self.reports.close()
        self.tell.close()
        if self.conn is None:
            return
        self.conn.close()
        self.conn = None
        try:
            os.kill(self.pid, signal.SIGKILL)  # idle, so no attempt's: not yet reaped, so still ours
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _worker_child(worker_fd: int, keep_closed: list[int], grpc: bool = False, link_fd: int = -1) -> None:
    """In a forked child: become a reusable worker on the socket the backend passed, with its
    link (`link_fd`, see `worker`; with `grpc`, for an environment whose tasks call other tasks,
    grpc imported first). Never returns."""
    code = 0
    try:
        _detach(keep_closed)
        from flyte_jupyter.backend.plugins.local import worker as _worker

        _worker.serve(worker_fd, warm=False, grpc=grpc, link_fd=link_fd)
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def _check_fork_safe() -> None:
    """Refuse to be a template when loading the module started threads (a thread's locks would be
    copied held into every child) or imported grpc (whose state must not cross a fork): actions
    of such a bundle are forked from the plain fork server and import the module themselves."""
    threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 1
    if threads > 1:
        raise RuntimeError(f"the task module started {threads - 1} thread(s) at import; not forking from it")
    if "grpc" in sys.modules:
        raise RuntimeError("the task module imported grpc at import time; not forking from it")


def _preload_grpc() -> None:
    """For a template of a task that calls other tasks (the executor sets PRELOAD_GRPC_ENV once it
    has seen one of the task's actions enqueue a child): import grpc, the client and the remote
    controller here, once, instead of in every child (~110 ms of CPU per nesting action, most of a
    nested call's cost). Import only: no channel, no thread, no grpc_init (that happens on the
    first channel, in the child after the fork), so nothing of grpc's state crosses the fork. It
    makes the template ~10 MiB bigger (fork ~0.4 ms dearer), so leaf tasks never get it."""
    preload_grpc()
    threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 1
    if threads > 1:
        raise RuntimeError(f"importing grpc started {threads - 1} thread(s); not forking from it")


def _template_child(req: dict, tmpl_fd: int, keep_closed: list[int], zygote: int) -> None:
    """In a forked child: load one bundle's task module, then serve fork requests. Never returns.

    Why: importing the task's module (and building its interface) is most of a forked action's
    CPU. A template does it once, under the actions' static environment (the per-attempt variables
    are set in each child), and every action of that bundle is forked from it: still one process
    per action, with its own pid, process group, working directory and memory, but the module's
    top-level code has already run (as it has in a reusable worker)."""
    code = 0
    try:
        die_with_parent(zygote)  # infrastructure: a template ends with its fork server
        for fd in keep_closed:
            try:
                os.close(fd)
            except OSError:
                pass
        os.environ.update(req["env"])
        os.makedirs(req["cwd"], exist_ok=True)
        os.chdir(req["cwd"])
        from flyte_jupyter._internal.runtime import entrypoint

        task, code_ref = entrypoint.load_task(entrypoint.parse_args(req["argv"]))
        entrypoint.warm_tasks(task, code_ref)  # computed once here, inherited by every child
        _check_fork_safe()
        if os.environ.get(PRELOAD_GRPC_ENV) == "1":
            _preload_grpc()
        import gc

        gc.collect()
        gc.freeze()
        serve(tmpl_fd)
    except BaseException:  # noqa: BLE001 - the backend sees the socket close and stops using us
        traceback.print_exc()
        code = 3
    finally:
        os._exit(code)


def serve(fd: int, ctl_fd: int = -1) -> None:
    sock = socket.socket(fileno=fd)
    ctl = socket.socket(fileno=ctl_fd) if ctl_fd >= 0 else None
    sock.setblocking(False)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the backend's process group may be signalled
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "sock")
    sel.register(wake_r, selectors.EVENT_READ, "wake")
    out = bytearray()
    spares = _Spares()
    sel.register(spares.reports, selectors.EVENT_READ, "taught")

    def send(obj: dict) -> None:
        out.extend(json.dumps(obj).encode() + b"\n")
        flush()

    def flush() -> None:
        while out:
            try:
                n = sock.send(out)
            except BlockingIOError:
                sel.select(0.05)  # the backend is slow to read; wait briefly, never spin
                continue
            del out[:n]

    def closing() -> list[int]:
        """What a child of ours must not keep: our sockets, and the idle spare's."""
        return [fd, wake_r, wake_w, sel.fileno(), *([ctl_fd] if ctl_fd >= 0 else []), *spares.fds()]

    def reap() -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if spares.owns_exit(pid):
                continue
            send({"exit": pid, "code": os.waitstatus_to_exitcode(status),
                  "cpu": usage.ru_utime + usage.ru_stime, "maxrss": usage.ru_maxrss * 1024})

    def spawn(req: dict) -> None:
        """Fork what one request asks for (an attempt, a worker, a template) and answer it."""
        worker_fd = link_fd = -1
        out_fd = -1
        if req.get("worker") or req.get("template"):
            # The worker's sockets (its own, its link) were passed on the control
            # socket before this request.
            if ctl is None:
                raise RuntimeError("a worker or template request, but the fork server has no control socket")
            _, fds, _, _ = socket.recv_fds(ctl, 16, 2)
            worker_fd = fds[0] if fds else -1
            link_fd = fds[1] if len(fds) > 1 else -1
        else:
            try:
                out_fd = open_log(req["stdout"])
            except OSError as exc:
                send({"id": req["id"], "error": f"cannot create the attempt's log file: {exc}"})
                return
            pid = spares.hand_over(req, out_fd)
            if pid:
                os.close(out_fd)
                send({"id": req["id"], "pid": pid})
                return
        me = os.getpid()
        try:
            pid = os.fork()
        except OSError as exc:
            if out_fd >= 0:
                os.close(out_fd)
            send({"id": req["id"], "error": str(exc)})
            return
        if pid == 0:
            keep_closed = closing()
            if worker_fd >= 0 and req.get("template"):
                _template_child(req, worker_fd, keep_closed, me)
            if worker_fd >= 0:  # a worker reports on its own socket: not on the attempts'
                _worker_child(worker_fd, keep_closed + ([_REPORT_FD] if _REPORT_FD >= 0 else []),
                              bool(req.get("grpc")), link_fd)
            _child(req, keep_closed, out_fd if out_fd >= 0 else None)
        for passed in (worker_fd, link_fd):
            if passed >= 0:
                os.close(passed)
        if out_fd >= 0:
            os.close(out_fd)
        send({"id": req["id"], "pid": pid})

    try:
        send({"ready": True, "pid": os.getpid()})  # the first spare is forked once we are idle
        buf = b""
        while True:
            events = sel.select(spares.quiet_needed())
            if not events:
                spares.refill(closing())
                continue
            for key, _ in events:
                if key.data == "wake":
                    try:
                        while os.read(wake_r, 4096):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                if key.data == "taught":
                    spares.hear()
                    continue
                try:
                    chunk = sock.recv(1 << 20)
                except BlockingIOError:
                    continue
                if not chunk:
                    return  # the backend is gone
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    spawn(json.loads(line))
            reap()
    except (ConnectionResetError, BrokenPipeError):
        return  # the backend is gone, and closed its end with our messages unread
    finally:
        spares.close()


def main() -> None:
    global _REPORT_FD
    fd = int(sys.argv[1])
    ctl_fd = int(sys.argv[2]) if len(sys.argv) > 2 else -1
    die_with_parent(int(sys.argv[3]) if len(sys.argv) > 3 else 0)  # infrastructure: ends with the backend
    _REPORT_FD = int(sys.argv[4]) if len(sys.argv) > 4 else -1
    if _REPORT_FD >= 0:
        os.set_inheritable(_REPORT_FD, False)  # kept across forks, never passed to a program an attempt runs
    preload()
    import gc

    gc.collect()
    gc.freeze()  # keep the preloaded heap out of the children's collections: fewer copied pages
    serve(fd, ctl_fd)


if __name__ == "__main__":
    main()
