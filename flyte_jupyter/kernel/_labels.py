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
import functools
from typing import Any

from flyte_jupyter._internal.display.labels import label_of, literal_word, value_word

READS_PER_RENDER = 40


class Labels:
    """The labels of one run's actions, made once each: from memory (local runs) or from storage
    (remote runs, read on demand for the actions a view shows)."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.remote = getattr(run, "mode", "") == "remote" and getattr(run, "client", None) is not None
        self._words: dict[str, dict[str, str]] = {}
        self._wanted: list[str] = []
        self._reading = False
        self._read_done = asyncio.Event()  # set while no read runs (renders on the views loop may overlap)
        self._read_done.set()

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
        return bool(self._wanted)

    async def read_pending(self) -> bool:
        """Read the inputs of (some of) the actions asked about since the last call; True if any
        label changed. Runs on the views loop; the storage reads happen in a thread."""
        while self._reading:  # another render's batch first; then this one's, not none (an ended
            await self._read_done.wait()  # run's view renders no more: what it skipped stayed unread)
        if not self._wanted:
            return False
        batch, self._wanted = self._wanted[:READS_PER_RENDER], self._wanted[READS_PER_RENDER:]
        self._reading = True
        self._read_done.clear()
        try:
            uris = await self._inputs_uris(batch)
            found = await asyncio.to_thread(_read_words, uris)
        except Exception:
            found = {}
        finally:
            self._reading = False
            self._read_done.set()
        self._read_done = asyncio.Event()  # set while no read runs (renders on the views loop may overlap)
        self._read_done.set()
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
