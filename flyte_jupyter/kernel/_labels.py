"""Short labels for actions: the task's own name and a short form of its inputs,
`trial(lr=0.05, i=4)`, so that twenty rows of one task can be told apart.

A local run's inputs are in memory (the controller records them). A remote run's are read from
storage, as literals, without decoding them (no user class is imported, no large value is
fetched): numbers, short strings and flags show as themselves, anything bigger by its kind
(`[12 items]`, `{3 keys}`, `DataFrame`, `File(data.csv)`). They are read only for the actions a
view shows, once each, a few at a time, on the views loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import math
import os
from typing import Any

LABEL_CHARS = 48
VALUE_CHARS = 14
READS_PER_RENDER = 40
NOTEBOOK_CELL = "notebook.cell"  # the task of a `%%flyte run` cell's root: labelled `cell`


def short_task(task: str) -> str:
    """`sweep.trial` -> `trial` (the environment's name is in the row already)."""
    return task.rsplit(".", 1)[-1] if task else "?"


def _clip(text: str, limit: int = VALUE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def value_word(value: Any) -> str:
    """A Python value in a few characters."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return _clip(repr(value))
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return repr(_clip(value, VALUE_CHARS - 2))
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and shape and all(isinstance(n, int) for n in shape):
        return f"{type(value).__name__}({'×'.join(str(n) for n in shape)})"
    if isinstance(value, (list, tuple, set, frozenset)):
        text = repr(value)
        return text if len(text) <= VALUE_CHARS else f"[{len(value)} items]"
    if isinstance(value, dict):
        text = repr(value)
        return text if len(text) <= VALUE_CHARS else f"{{{len(value)} keys}}"
    path = getattr(value, "path", None)
    if isinstance(path, str) and type(value).__name__ in ("File", "Dir"):
        return f"{type(value).__name__}({_clip(os.path.basename(path.rstrip('/')) or path)})"
    if dataclasses.is_dataclass(value) or hasattr(value, "model_fields"):
        return f"{type(value).__name__}(…)"
    return type(value).__name__


def literal_word(lit: Any) -> str:
    """A stored literal (see literals.proto) in a few characters, without decoding it."""
    kind = lit.WhichOneof("value")
    if kind is None or kind == "none":
        return "None"
    if kind == "int":
        return _clip(str(lit.int))
    if kind == "float":
        return value_word(lit.float)
    if kind == "bool":
        return repr(lit.bool)
    if kind == "big_int":
        return _clip(lit.big_int)
    if kind == "str":
        return value_word(lit.str)
    if kind == "bytes":
        return f"<{len(lit.bytes)} bytes>"
    if kind in ("ints", "floats", "strs"):
        values = list(getattr(lit, kind).values)
        return value_word(values)
    if kind == "collection":
        return f"[{len(lit.collection.items)} items]"
    if kind == "map":
        return f"{{{len(lit.map.values)} keys}}"
    if kind == "record":
        return f"{lit.record.type_name.rsplit(':', 1)[-1].rsplit('.', 1)[-1]}(…)"
    if kind == "enum":
        return f"{lit.enum.type_name.rsplit(':', 1)[-1].rsplit('.', 1)[-1]}.{lit.enum.name}"
    if kind == "blob":
        what = "Dir" if lit.blob.kind == 1 else "File"
        return f"{what}({_clip(os.path.basename(lit.blob.uri.rstrip('/')) or lit.blob.uri)})"
    if kind == "dataframe":
        return "DataFrame"
    if kind == "union":
        return literal_word(lit.union.value)
    if kind == "datetime":
        return "datetime"
    if kind == "date":
        return "date"
    if kind == "duration":
        return "timedelta"
    if kind == "offloaded":
        return "<stored>"
    return "<object>"


def label_of(task: str, words: dict[str, str] | None) -> str:
    """`trial(lr=0.05, i=4)`, at most LABEL_CHARS long; the task alone while inputs are unknown."""
    name = short_task(task)
    if words is None or (not words and task == NOTEBOOK_CELL):
        return name
    parts: list[str] = []
    size = len(name) + 2
    for key, word in words.items():
        piece = f"{key}={word}"
        if parts and size + len(piece) + 2 > LABEL_CHARS:
            parts.append("…")
            break
        parts.append(piece)
        size += len(piece) + 2
    return f"{name}({', '.join(parts)})"


class Labels:
    """The labels of one run's actions, made once each: from memory (local runs) or from storage
    (remote runs, read on demand for the actions a view shows)."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.remote = getattr(run, "mode", "") == "remote" and getattr(run, "client", None) is not None
        self._words: dict[str, dict[str, str]] = {}
        self._wanted: list[str] = []
        self._reading = False

    def words(self, info: Any) -> dict[str, str] | None:
        name = info.name
        known = self._words.get(name)
        if known is not None:
            return known
        if info.inputs is not None:  # a local run's values, or annotated
            words = {k: value_word(v) for k, v in info.inputs.items()}
            self._words[name] = words
            return words
        if self.remote and name not in self._wanted:
            self._wanted.append(name)
        return None

    def label(self, info: Any) -> str:
        return label_of(info.task, self.words(info))

    @property
    def version(self) -> int:
        """Changes when a label does (labels are only ever added)."""
        return len(self._words)

    @property
    def pending(self) -> bool:
        return bool(self._wanted) and not self._reading

    async def read_pending(self) -> bool:
        """Read the inputs of (some of) the actions asked about since the last call; True if any
        label changed. Runs on the views loop; the storage reads happen in a thread."""
        if not self._wanted or self._reading:
            return False
        batch, self._wanted = self._wanted[:READS_PER_RENDER], self._wanted[READS_PER_RENDER:]
        self._reading = True
        try:
            uris = await self._inputs_uris(batch)
            found = await asyncio.to_thread(_read_words, uris)
        except Exception:
            found = {}
        finally:
            self._reading = False
        actions = self.run.state.actions
        for name in batch:
            words = found.get(name, {})
            info = actions.get(name)
            self._words[name] = in_signature_order(info.task, words) if info is not None else words
        return bool(batch)

    async def _inputs_uris(self, names: list[str]) -> dict[str, str]:
        # The run's watch stream already carries each action's inputs_uri; the RemoteRun keeps the
        # latest Action message of each action (`_latest`). Without it, ask the backend.
        latest = getattr(self.run, "_latest", None)
        out: dict[str, str] = {}
        missing: list[str] = []
        for name in names:
            msg = latest.get(name) if isinstance(latest, dict) else None
            uri = getattr(msg, "inputs_uri", "") if msg is not None else ""
            if uri:
                out[name] = uri
            else:
                missing.append(name)
        if missing:
            from flyte_jupyter._internal.client.calls import acall

            client = self.run.client
            for name in missing:
                try:
                    detail = await acall(functools.partial(
                        client.get_action, self.run.name, name, project=getattr(self.run, "project", None),
                        domain=getattr(self.run, "domain", None)))
                    out[name] = detail.inputs_uri
                except Exception:
                    out[name] = ""
        return out


def in_signature_order(task_name: str, words: dict[str, str]) -> dict[str, str]:
    """Stored inputs come sorted by name; show them in the order of the task's signature when this
    kernel has the task (a task defined in the notebook, found through its environment)."""
    if len(words) < 2:
        return words
    order = _signature(task_name)
    if not order:
        return words
    rank = {key: i for i, key in enumerate(order)}
    return dict(sorted(words.items(), key=lambda kv: rank.get(kv[0], len(rank))))


_signatures: dict[str, list[str]] = {}


def _signature(task_name: str) -> list[str]:
    known = _signatures.get(task_name)
    if known is not None:
        return known
    import sys

    found: list[str] = []
    main = sys.modules.get("__main__")
    try:
        from flyte_jupyter._environment import TaskEnvironment

        for value in list(vars(main).values()) if main is not None else []:
            if isinstance(value, TaskEnvironment):
                task = value.tasks.get(task_name)
                if task is not None:
                    found = list(task.interface.inputs)
                    break
    except Exception:
        found = []
    if found:
        _signatures[task_name] = found
    return found


def _read_words(uris: dict[str, str]) -> dict[str, dict[str, str]]:
    from flyte_jupyter._internal.runtime import storage as _storage
    from flyte_jupyter._internal.wire.proto import literals_pb2

    out: dict[str, dict[str, str]] = {}
    for name, uri in uris.items():
        if not uri:
            out[name] = {}
            continue
        try:
            lm = literals_pb2.LiteralMap()
            lm.ParseFromString(_storage.get_bytes(uri))
        except Exception:
            out[name] = {}
            continue
        out[name] = {key: literal_word(lm.literals[key]) for key in lm.literals
                     if not key.startswith("_")}
    return out


def path_labels(run: Any, names: list[str]) -> dict[str, str]:
    """Labels of a few actions, read now (the path of a failure, for the cell's error)."""
    actions = run.state.actions
    book = Labels(run)
    out: dict[str, str] = {}
    missing: list[str] = []
    for name in names:
        info = actions.get(name)
        if info is None:
            continue
        words = book.words(info)
        if words is None:
            missing.append(name)
        out[name] = book.label(info)
    if missing and book.remote:
        from flyte_jupyter._internal.client.calls import call

        try:
            uris = call(lambda: book._inputs_uris(missing), 30)
            found = _read_words(uris)
        except Exception:
            found = {}
        for name in missing:
            info = actions[name]
            words = found.get(name)
            out[name] = label_of(info.task, in_signature_order(info.task, words) if words is not None else None)
    return out
