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
The zygote ends with the backend: it exits when the backend's end of the socket closes, and the
kernel kills it when the backend process dies (PR_SET_PDEATHSIG; the backend's pid is its third
argument, so a zygote whose backend died before the request took exits at once). A template ends
likewise with its zygote. Running children (attempts) are left alone: a restarted backend
reattaches to them. The zygote creates an attempt's stdout log before it forks, so the child holds
it from its first instant (see `attempt.open_log`).
"""

from __future__ import annotations

import io
import json
import os
import selectors
import signal
import socket
import sys
import traceback
from typing import cast

from flyte_jupyter._internal.runtime import worker_link
from flyte_jupyter._internal.runtime.entrypoint import PRELOAD_GRPC_ENV
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
    """In the forked child: become the attempt's process and run the entrypoint. Never returns."""
    code = 1
    try:
        _detach(keep_closed)
        from flyte_jupyter.backend.plugins.local.attempt import enter_attempt, order_path_of, run_entrypoint

        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
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
    except BaseException:  # noqa: BLE001 - the attempt could not start: report it, then exit
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


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

    def reap() -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            send({"exit": pid, "code": os.waitstatus_to_exitcode(status),
                  "cpu": usage.ru_utime + usage.ru_stime, "maxrss": usage.ru_maxrss * 1024})

    try:
        send({"ready": True, "pid": os.getpid()})
        buf = b""
        while True:
            for key, _ in sel.select():
                if key.data == "wake":
                    try:
                        while os.read(wake_r, 4096):
                            pass
                    except BlockingIOError:
                        pass
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
                    req = json.loads(line)
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
                            continue
                    me = os.getpid()
                    try:
                        pid = os.fork()
                    except OSError as exc:
                        if out_fd >= 0:
                            os.close(out_fd)
                        send({"id": req["id"], "error": str(exc)})
                        continue
                    if pid == 0:
                        closing = [fd, wake_r, wake_w, sel.fileno()] + ([ctl_fd] if ctl_fd >= 0 else [])
                        if worker_fd >= 0 and req.get("template"):
                            _template_child(req, worker_fd, closing, me)
                        if worker_fd >= 0:  # a worker reports on its own socket: not on the attempts'
                            _worker_child(worker_fd, closing + ([_REPORT_FD] if _REPORT_FD >= 0 else []),
                                          bool(req.get("grpc")), link_fd)
                        _child(req, closing, out_fd if out_fd >= 0 else None)
                    for passed in (worker_fd, link_fd):
                        if passed >= 0:
                            os.close(passed)
                    if out_fd >= 0:
                        os.close(out_fd)
                    send({"id": req["id"], "pid": pid})
            reap()
    except (ConnectionResetError, BrokenPipeError):
        return  # the backend is gone, and closed its end with our messages unread


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
