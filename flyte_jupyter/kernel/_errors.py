"""Failures of a run shown as one readable error: the failing action, its attempt, the path of
actions the failure travelled, and the user's traceback, with the frames of flyte_jupyter's own
machinery (controller, entrypoint, asyncio) cut.

- Frames of notebook code point at the cell, as IPython's own tracebacks do (`Cell In[7], line 3`;
  the body of a `%%flyte run` cell counts its magic line, so the number is the cell's own), and
  show the source line. A remote action's traceback has no source lines for notebook code (the
  action has no copy of the cells): this kernel puts them back from the cells it ran (IPython's
  `linecache` entries), and from the copies it keeps of the cells it shipped to the backend
  (`remember_sources`), so a run from an earlier kernel session shows its lines too. An action
  names an IPython cell by its source (`<notebook cell DIGEST>`, see `code_origins`: the cell's
  file name carries the kernel's pid, and bundles must not), which this kernel maps back.
- Our internal classes never show by their module path: `flyte_jupyter._internal....TypeMismatchErrorFromTask`
  reads `TypeMismatchError` (the public class it derives from).
- A failure that went up through parent actions is one error at its root, not a chain of
  `X: action A failed: X: action B failed: ...`: `root_cause` peels the chain and keeps the path.

Installed as the shell's custom exception handler for the errors our magics raise, so a notebook
never shows a traceback through our internals.
"""

from __future__ import annotations

import hashlib
import json
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
_FRAME = re.compile(r'^(?P<indent>\s*)File "(?P<path>[^"]+)", line (?P<line>\d+)(?P<rest>.*)$')
_INTERNAL_NAME = re.compile(r"\bflyte_jupyter(?:\.[A-Za-z_]\w*)*\.(?P<name>[A-Za-z_]\w*)(?=:|\s*$)")
_CHAIN = re.compile(r"^action (?P<action>\S+) \(task (?P<task>[^)]*)\) (?:failed|timed out)"
                    r"(?: after \d+ attempts)?: (?P<rest>.*)$", re.S)
_KIND = re.compile(r"^(?P<kind>[A-Za-z_][\w.]*): ?(?P<message>.*)$", re.S)
_RED = "\x1b[0;31m"
_BOLD = "\x1b[1m"
_RESET = "\x1b[0m"
FLYTE_CELL_PREFIX = "<flyte cell "
MAGIC_LINES = 1  # the `%%flyte run ...` line above a cell's body


class CellError(FlyteJupyterError):
    """A `%%flyte` / `%flyte` command could not do what was asked (bad arguments, no backend, ...);
    the message says what to do. Shown without a traceback."""


# -- where notebook code came from ---------------------------------------------------------------

_flyte_cells: dict[str, int | None] = {}  # `<flyte cell ...>` file -> the execution count of its cell


def register_cell(filename: str, execution_count: int | None) -> None:
    """A `%%flyte run` cell's body was compiled as `filename` (see `_cell`)."""
    _flyte_cells[filename] = execution_count


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _sources_dir() -> Any:
    from pathlib import Path

    from flyte_jupyter import _config

    return Path(_config.data_dir()) / "kernel" / "cell-sources"


def _source_key(filename: str) -> str:
    return hashlib.sha256(filename.encode()).hexdigest()[:32]


_remembered: set[str] = set()
_cell_ids: dict[str, str] = {}  # a cell's stable name in a bundle (`code_origins.cell_id`) -> its file here
_origin_of: dict[str, str] = {}  # and back: a cell's file -> its stable name


def remember_sources(shell: Any) -> None:
    """Keep a copy of this kernel's cells (IPython's and `%%flyte run` bodies) on disk, keyed by
    the file name their code carries and by the stable name a bundle gives it (an action's
    traceback names a cell so, see `code_origins`), so a remote traceback can show their lines
    later, also in another kernel session. Called when a run is shipped; each cell is written once."""
    import linecache

    names: dict[str, Any] = {}
    compiler = getattr(shell, "compile", None)
    for name, count in dict(getattr(compiler, "_filename_map", {}) or {}).items():
        names[name] = count
    for name, count in _flyte_cells.items():
        names[name] = count
    fresh = [n for n in names if n not in _remembered and n in linecache.cache]
    if not fresh:
        return
    keys: dict[str, list[str]] = {}  # file name -> the names its copy is kept under
    for name in fresh:
        origin = _index_cell(name)
        keys[name] = [name] if origin == name else [name, origin]
    try:
        folder = _sources_dir()
        folder.mkdir(parents=True, exist_ok=True)
        for name in fresh:
            entry = linecache.cache.get(name)
            lines = list(entry[2]) if entry and len(entry) > 2 else []
            if not lines:
                continue
            record = json.dumps({"filename": name, "count": names[name], "lines": lines, "pid": os.getpid()})
            for key in keys[name]:
                (folder / f"{_source_key(key)}.json").write_text(record)
            _remembered.add(name)
    except OSError:
        pass


def _index_cell(name: str) -> str:
    """The stable name of the cell compiled as `name` (`code_origins.stable_origin`), noted."""
    from flyte_jupyter._internal.runtime.code_origins import stable_origin

    origin = _origin_of.get(name)
    if origin is None:
        origin = _origin_of[name] = stable_origin(name)
        if origin != name:
            _cell_ids[origin] = name
    return origin


def _this_session(path: str) -> str:
    """The file in this kernel of a cell an action named by its source (`<notebook cell ...>`),
    if this kernel ran that source; else `path` (its lines then come from a kept copy)."""
    from flyte_jupyter._internal.runtime.code_origins import CELL_PREFIX

    if not path.startswith(CELL_PREFIX) or path in _cell_ids:
        return _cell_ids.get(path, path)
    compiler = getattr(_shell(), "compile", None)
    for name in dict(getattr(compiler, "_filename_map", {}) or {}):
        _index_cell(name)
    return _cell_ids.get(path, path)


def _kept_source(filename: str) -> dict[str, Any] | None:
    try:
        return json.loads((_sources_dir() / f"{_source_key(filename)}.json").read_text())
    except (OSError, ValueError):
        return None


def _source_line(path: str, lineno: int) -> str:
    import linecache

    path = _this_session(path)
    line = linecache.getline(path, lineno).strip()
    if line:
        return line
    kept = _kept_source(path)
    if kept and 0 < lineno <= len(kept.get("lines", [])):
        return str(kept["lines"][lineno - 1]).strip()
    return ""


def _where(path: str, lineno: int) -> str | None:
    """`Cell In[7], line 3` for notebook code (None: a plain file, shown as Python shows it)."""
    path = _this_session(path)
    if path.startswith(FLYTE_CELL_PREFIX):
        count = _flyte_cells.get(path)
        if count is None and path not in _flyte_cells:
            kept = _kept_source(path)
            count = kept.get("count") if kept else None
            earlier = " of an earlier kernel session" if kept and kept.get("pid") != os.getpid() else ""
        else:
            earlier = ""
        cell = f"In[{count}]" if count else "In[?]"
        return f"Cell {cell}{earlier} (%%flyte run), line {lineno + MAGIC_LINES}"
    shell = _shell()
    compiler = getattr(shell, "compile", None)
    if compiler is not None and hasattr(compiler, "format_code_name"):
        try:
            data = compiler.format_code_name(path)
        except Exception:
            data = None
        if data is not None:
            label, name = data
            return f"{label} {name}, line {lineno}"
    kept = _kept_source(path)
    if kept is not None and kept.get("count"):
        earlier = " of an earlier kernel session" if kept.get("pid") != os.getpid() else ""
        return f"Cell In[{kept['count']}]{earlier}, line {lineno}"
    return None


def _internal(path: str) -> bool:
    if path.startswith("<"):  # generated code: notebook cells, our cell tasks
        return False
    norm = os.path.abspath(path) if os.path.isabs(path) else path
    if norm.startswith(_PKG_DIR + os.sep) or f"{os.sep}flyte_jupyter{os.sep}" in norm:
        return True
    return any(part in norm for part in _STDLIB_NOISE)


# -- names ---------------------------------------------------------------------------------------


def public_name(dotted: str) -> str:
    """The name a user should read for one of our classes: the nearest public class it derives
    from (`flyte_jupyter.errors` or not ours at all), never a module path."""
    module, _, name = dotted.rpartition(".")
    if not module.startswith("flyte_jupyter"):
        return dotted
    try:
        import importlib

        cls = getattr(importlib.import_module(module), name)
        for base in getattr(cls, "__mro__", ())[:-1]:
            owner = getattr(base, "__module__", "")
            if owner == "flyte_jupyter.errors" or not owner.startswith("flyte_jupyter"):
                return base.__name__
    except Exception:
        pass
    return name


def public_text(text: str) -> str:
    """Every `flyte_jupyter.x.y.Name` (ending a line or before a colon) as its public name."""
    if "flyte_jupyter." not in text:
        return text
    return _INTERNAL_NAME.sub(lambda m: public_name(m.group(0)), text)


# -- nested failures -----------------------------------------------------------------------------


def root_cause(kind: str, message: str) -> tuple[str, str, list[tuple[str, str]]]:
    """(kind, message, path) of a failure recorded as `kind: action A (task T) failed: kind: ...`
    by each parent it went through: the root cause once, and the (action, task) path below."""
    path: list[tuple[str, str]] = []
    while True:
        match = _CHAIN.match(message or "")
        if match is None:
            break
        path.append((match.group("action"), match.group("task")))
        rest = match.group("rest")
        inner = _KIND.match(rest)
        if inner is None:
            message = rest
            break
        kind, message = inner.group("kind"), inner.group("message")
    return public_name(kind) if "." in kind else kind, message, path


def error_summary(error: Any) -> tuple[str, list[tuple[str, str]]]:
    """`Kind: message` of an ActionError at its root, and the path of actions below this one."""
    kind, message, path = root_cause(error.kind, error.message)
    return (f"{kind}: {message}" if message else kind), path


# -- tracebacks ----------------------------------------------------------------------------------


def clean_traceback(text: str) -> str:
    """Drop the frames of our machinery (and asyncio's) from a formatted traceback, point notebook
    frames at their cells and put their source lines back (see the module docstring)."""
    if not text:
        return ""
    out: list[tuple[str, bool]] = []  # (line, is a frame)
    skipping = False
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = _FRAME.match(line)
        if match:
            path, lineno = match.group("path"), int(match.group("line"))
            skipping = _internal(path)
            if not skipping:
                where = _where(path, lineno)
                head = (f"{match.group('indent')}{where}{match.group('rest')}" if where is not None else line)
                out.append((head, True))
                following = lines[i + 1] if i + 1 < len(lines) else ""
                if not following.startswith("    ") or _FRAME.match(following):
                    source = _source_line(path, lineno)
                    if source:
                        out.append((f"    {source}", False))
            continue
        if skipping and line.startswith("    "):
            continue  # the source line and carets of a skipped frame
        skipping = False
        out.append((public_text(line), False))
    return "\n".join(_drop_empty_sections(out))


def _drop_empty_sections(lines: list[tuple[str, bool]]) -> list[str]:
    """A 'Traceback (most recent call last):' header with no frame left under it says nothing."""
    result: list[str] = []
    for i, (line, _frame) in enumerate(lines):
        if line.startswith("Traceback (most recent call last):"):
            if not (i + 1 < len(lines) and lines[i + 1][1]):
                continue
        result.append(line)
    return result


def format_failure(err: BaseException) -> list[str]:
    """The lines a notebook shows for a failed or aborted run."""
    if isinstance(err, ActionFailedError):
        tries = f"attempt {err.attempts} of {err.max_attempts}" if err.max_attempts > 1 else f"attempt {max(err.attempts, 1)}"
        label = getattr(err, "_flyte_label", None)
        who = f"{label} [{err.action}]" if label else err.action
        lines = [f"{_RED}{_BOLD}ActionFailedError{_RESET}{_RED}: {public_text(str(err))}{_RESET}",
                 f"failing action: {who} (task {err.task}), {tries}"]
        path = getattr(err, "_flyte_path", None)
        if path:
            lines.append("path: " + " › ".join(path))
        user_tb = clean_traceback(err.traceback)
        if user_tb:
            lines += ["", user_tb]
        return lines
    name = type(err).__name__
    return [f"{_RED}{_BOLD}{name}{_RESET}{_RED}: {public_text(str(err))}{_RESET}"]


def format_sdk_error(etype: type, value: BaseException, tb: Any) -> list[str]:
    """Any other error of ours raised while running a cell (a wrong input type for `flyte.run`,
    an unreachable backend): the cell's own frames and the error, none of our machinery."""
    import traceback as _tb

    text = clean_traceback("".join(_tb.format_exception(etype, value, tb)))
    lines = text.splitlines()
    if lines and not lines[-1].startswith(" "):
        last = lines.pop()
        name, sep, rest = last.partition(": ")
        lines.append(f"{_RED}{_BOLD}{name}{_RESET}{_RED}{sep}{rest}{_RESET}")
    return lines or format_failure(value)


def _handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
    if isinstance(value, HANDLED):
        stb = format_failure(value)
    else:
        stb = format_sdk_error(etype, value, tb)
    shell._showtraceback(etype, value, stb)
    return stb


HANDLED = (ActionFailedError, ActionAbortedError, CellError)
CAUGHT = (*HANDLED, FlyteJupyterError)


def install(shell: Any) -> None:
    """Make the shell show our errors via `format_failure` (IPython's custom exception hook)."""
    shell.set_custom_exc(CAUGHT, _handler)


def uninstall(shell: Any) -> None:
    if tuple(getattr(shell, "custom_exceptions", ())) in (HANDLED, CAUGHT):
        shell.set_custom_exc((), None)
