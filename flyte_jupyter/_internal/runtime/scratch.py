"""Scratch directories of this process, removed when it exits.

Downloads (`File.download()`, `Dir.download()`, `flyte.storage.get`), a debug session's extracted
bundle, a SQL task's copy of a remote database and local-mode secret files all need a directory that
lives as long as the process may still read it, and no longer. Each gets its own directory under one
per-process root in the system temp directory (`$TMPDIR`), and the root goes at interpreter exit, so a
notebook kernel leaves nothing behind in /tmp. An action's process removes its root when the action
ends (`remove_all`, from the entrypoint: the backend's processes exit without atexit handlers, and a
reusable worker runs the next action). A process killed with SIGKILL cannot clean up: its root
(`flyte-jupyter-<pid>-*`) is what remains.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading

_lock = threading.Lock()
_root: tuple[int, str] | None = None  # (pid that made it, path): a forked child makes its own


def _remove(pid: int, path: str) -> None:
    if os.getpid() == pid:  # a forked child that runs atexit handlers leaves its parent's root alone
        shutil.rmtree(path, ignore_errors=True)


def _root_dir() -> str:
    global _root
    with _lock:
        pid = os.getpid()
        if _root is None or _root[0] != pid or not os.path.isdir(_root[1]):
            path = tempfile.mkdtemp(prefix=f"flyte-jupyter-{pid}-")  # mode 0700
            _root = (pid, path)
            atexit.register(_remove, pid, path)
        return _root[1]


def scratch_dir(prefix: str) -> str:
    """A new empty directory (mode 0700) that is removed, with everything in it, when this process
    exits. `prefix` says what it is for (`"file-"`, `"debug-RUN-"`)."""
    return tempfile.mkdtemp(prefix=prefix, dir=_root_dir())


def remove_all() -> None:
    """Remove this process's scratch directories now (a later `scratch_dir` makes a new root)."""
    global _root
    with _lock:
        root, _root = _root, None
    if root is not None:
        _remove(*root)
