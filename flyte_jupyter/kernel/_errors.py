"""Failures of a run shown as one readable error: the failing action, its attempt and the user's
traceback, with the frames of flyte_jupyter's own machinery (controller, entrypoint, asyncio) cut.

Installed as the shell's custom exception handler for the errors our magics raise, so a notebook
never shows a traceback through our internals.
"""

from __future__ import annotations

import os
import re
from typing import Any

from flyte_jupyter.errors import (
    ActionAbortedError,
    ActionFailedError,
    FlyteJupyterError,
)

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_STDLIB_NOISE = (f"{os.sep}asyncio{os.sep}", f"{os.sep}concurrent{os.sep}futures{os.sep}",
                 f"{os.sep}threading.py", f"{os.sep}contextvars", f"{os.sep}runpy.py")
_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+)')
_RED = "\x1b[0;31m"
_BOLD = "\x1b[1m"
_RESET = "\x1b[0m"


class CellError(FlyteJupyterError):
    """A `%%flyte` / `%flyte` command could not do what was asked (bad arguments, no backend, ...);
    the message says what to do. Shown without a traceback."""


def _internal(path: str) -> bool:
    if path.startswith("<"):  # generated code: notebook cells, our cell tasks
        return False
    norm = os.path.abspath(path) if os.path.isabs(path) else path
    if norm.startswith(_PKG_DIR + os.sep) or f"{os.sep}flyte_jupyter{os.sep}" in norm:
        return True
    return any(part in norm for part in _STDLIB_NOISE)


def clean_traceback(text: str) -> str:
    """Drop the frames of our machinery (and asyncio's) from a formatted traceback.

    A traceback from another process (a remote action) has no source lines for code defined in
    the notebook; this kernel still has them (IPython keeps its cells in `linecache`, and so do we
    for `%%flyte run` cells), so they are put back."""
    if not text:
        return ""
    import linecache

    out: list[str] = []
    skipping = False
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = _FRAME.match(line)
        if match:
            skipping = _internal(match.group("path"))
            if not skipping:
                out.append(line)
                following = lines[i + 1] if i + 1 < len(lines) else ""
                if not following.startswith("    ") or _FRAME.match(following):
                    source = linecache.getline(match.group("path"), int(match.group("line"))).strip()
                    if source:
                        out.append(f"    {source}")
            continue
        if skipping and line.startswith("    "):
            continue  # the source line and carets of a skipped frame
        skipping = False
        out.append(line)
    return "\n".join(_drop_empty_sections(out))


def _drop_empty_sections(lines: list[str]) -> list[str]:
    """A 'Traceback (most recent call last):' header with no frame left under it says nothing."""
    result: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last):"):
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if not _FRAME.match(nxt):
                continue
        result.append(line)
    return result


def format_failure(err: BaseException) -> list[str]:
    """The lines a notebook shows for a failed or aborted run."""
    if isinstance(err, ActionFailedError):
        tries = f"attempt {err.attempts} of {err.max_attempts}" if err.max_attempts > 1 else f"attempt {max(err.attempts, 1)}"
        lines = [f"{_RED}{_BOLD}ActionFailedError{_RESET}{_RED}: {err}{_RESET}",
                 f"failing action: {err.action} (task {err.task}), {tries}"]
        user_tb = clean_traceback(err.traceback)
        if user_tb:
            lines += ["", user_tb]
        return lines
    name = type(err).__name__
    return [f"{_RED}{_BOLD}{name}{_RESET}{_RED}: {err}{_RESET}"]


def _handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
    stb = format_failure(value)
    shell._showtraceback(etype, value, stb)
    return stb


HANDLED = (ActionFailedError, ActionAbortedError, CellError)


def install(shell: Any) -> None:
    """Make the shell show our errors via `format_failure` (IPython's custom exception hook)."""
    shell.set_custom_exc(HANDLED, _handler)


def uninstall(shell: Any) -> None:
    if tuple(getattr(shell, "custom_exceptions", ())) == HANDLED:
        shell.set_custom_exc((), None)
