"""Where the code of a pickle bundle came from, so an action's traceback still names the notebook
cell a frame ran in.

cloudpickle 3.1 and later rewrite the file name of every code object it pickles by value to
`<dynamic-code>` (deterministic pickles); older versions keep it. Either way an action must report
frames a kernel can map back to a cell (`Cell In[7], line 3`, see `kernel/_errors`), so:

- at bundle time (`recording_pickler`) every code object pickled is recorded by `code_key` (its
  qualified name, first line and a digest of its bytecode: what survives pickling) with a stable
  name of its origin (`stable_origin`): a pseudo-file name such as `<flyte cell ...>` as it is, a
  notebook cell (source held only in `linecache`, whose file name carries the kernel's pid) as
  `<notebook cell DIGEST>` of its source, a real file as its path. The map travels in the bundle,
  sorted, so the same code still pickles to the same bytes in any kernel session (code an action
  pickles again, for a child outside its bundle, keeps the origin its own bundle recorded);
- in the action (`register`, `format_traceback`) a `<dynamic-code>` frame is written with the origin
  recorded for its code object.
"""

from __future__ import annotations

import hashlib
import io
import linecache
import traceback
import types
from typing import Any

DYNAMIC = "<dynamic-code>"  # the file name cloudpickle >= 3.1 gives code pickled by value
ORIGINS_KEY = "code_origins"  # the key of the map in a pickle bundle's payload
CELL_PREFIX = "<notebook cell "
_known: dict[str, str] = {}  # code_key -> origin, of every bundle this process loaded


def code_key(code: types.CodeType) -> str:
    """What identifies a code object on both sides of a pickle (its file name does not)."""
    name = getattr(code, "co_qualname", code.co_name)
    return f"{name}:{code.co_firstlineno}:{hashlib.sha256(code.co_code).hexdigest()[:16]}"


def cell_id(lines: list[str]) -> str:
    """A notebook cell named by its source: the same in every kernel session."""
    return f"{CELL_PREFIX}{hashlib.sha256(''.join(lines).encode()).hexdigest()[:12]}>"


def stable_origin(filename: str) -> str:
    """The name recorded for code compiled as `filename` (see the module docstring)."""
    if filename.startswith("<"):
        return filename
    entry = linecache.cache.get(filename)
    if entry is not None and len(entry) == 4 and entry[1] is None and entry[2]:
        return cell_id(list(entry[2]))  # source only in memory (mtime None): a notebook cell
    return filename


class Recorder:
    """The origins of the code objects a pickler saved. Pickles as a plain sorted dict, so it can
    be the last value of the payload it describes (saved after everything it records)."""

    def __init__(self) -> None:
        self.origins: dict[str, str] = {}
        self._names: dict[str, str] = {}  # file name -> its stable origin (linecache read once)

    def add(self, code: types.CodeType) -> None:
        key = code_key(code)
        if code.co_filename == DYNAMIC:  # code an action loaded from a bundle, pickled again for a child
            origin = _known.get(key) or ""
        else:
            origin = self._names.get(code.co_filename) or ""
            if not origin:
                origin = self._names[code.co_filename] = stable_origin(code.co_filename)
        if not origin:
            return
        known = self.origins.setdefault(key, origin)
        if known != origin:
            self.origins[key] = ""  # the same code in two cells: which one ran cannot be told

    def __reduce__(self) -> tuple[Any, ...]:
        return dict, (sorted(self.origins.items()),)


_PICKLER: Any = None


def recording_pickler(file: io.BytesIO, recorder: Recorder) -> Any:
    """A cloudpickle pickler (protocol 5) that records every code object it saves in `recorder`."""
    global _PICKLER
    if _PICKLER is None:
        import cloudpickle

        class _RecordingPickler(cloudpickle.Pickler):  # type: ignore[misc, name-defined]
            def __init__(self, file: io.BytesIO, recorder: Recorder) -> None:
                super().__init__(file, protocol=5)
                self._recorder = recorder

            def reducer_override(self, obj: Any) -> Any:
                if isinstance(obj, types.CodeType):
                    self._recorder.add(obj)
                return super().reducer_override(obj)

        _PICKLER = _RecordingPickler
    return _PICKLER(file, recorder)


# -- in the action -------------------------------------------------------------------------------


def register(origins: Any) -> None:
    """Remember the origins a loaded bundle carries (a bundle without them adds nothing)."""
    if isinstance(origins, dict):
        for key, origin in origins.items():
            if isinstance(key, str) and isinstance(origin, str):
                if _known.setdefault(key, origin) != origin:
                    _known[key] = ""


def origin_of(code: types.CodeType) -> str | None:
    """The recorded origin of a `<dynamic-code>` code object (None: unknown or ambiguous)."""
    if code.co_filename != DYNAMIC:
        return None
    return _known.get(code_key(code)) or None


def format_traceback(exc: BaseException) -> str:
    """`traceback.format_exception(exc)`, with each `<dynamic-code>` frame (its causes' and
    contexts' too) named by the origin recorded for its code."""
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__, lookup_lines=False)
    pending: list[tuple[Any, BaseException]] = [(te, exc)]
    seen: set[int] = set()
    while pending:
        summary, err = pending.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        for frame_summary, (frame, _line) in zip(summary.stack, traceback.walk_tb(err.__traceback__)):
            origin = origin_of(frame.f_code)
            if origin:
                frame_summary.filename = origin
        for attr in ("__cause__", "__context__"):
            inner, raw = getattr(summary, attr, None), getattr(err, attr, None)
            if inner is not None and raw is not None:
                pending.append((inner, raw))
        for inner, raw in zip(getattr(summary, "exceptions", None) or (), getattr(err, "exceptions", ()) or ()):
            pending.append((inner, raw))
    return "".join(te.format())
