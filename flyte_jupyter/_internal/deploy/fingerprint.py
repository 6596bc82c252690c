"""A fingerprint of the code a pickle bundle holds, the same in every session for the same code.

cloudpickle's bytes for notebook code differ from one kernel session to the next (code objects carry
the cell's temporary file name and line numbers), so a deployment's bundle digest does too, and
re-deploying the same notebook under the same version would be refused as other code. The
fingerprint is what the pickle holds, read without its session noise: each task's settings, and
for every function pickled by value (defined in `__main__`) its source and, recursively, whatever
its code reaches through globals, defaults and closures: functions of `__main__` again by source,
modules, importable functions and classes by name (the action imports those), plain data by value.

It is sound or absent: anything whose state the fingerprint cannot see completely (a class defined
in a cell, an open file, an arbitrary object) makes it None, and then the bundle's own digest
decides, as before: a re-deploy of changed code is never taken for the same code.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import inspect
import textwrap
import types
from typing import Any

_PLAIN = (int, float, complex, str, bytes, bool, type(None))
_MAX_VALUES = 100_000  # values visited at most: a huge global is data the bundle digest covers


class _Unsound(Exception):
    """Something the fingerprint cannot see whole."""


class _Walk:
    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.seen: dict[int, str] = {}
        self.count = 0

    def put(self, *parts: str) -> None:
        for part in parts:
            data = part.encode("utf-8", "surrogatepass")
            self.digest.update(len(data).to_bytes(8, "big") + data)

    def again(self, obj: Any, label: str) -> bool:
        """True (and a back-reference written) when `obj` was fingerprinted already."""
        known = self.seen.get(id(obj))
        if known is not None:
            self.put("again", known)
            return True
        self.seen[id(obj)] = f"{label}#{len(self.seen)}"
        return False

    def value(self, v: Any) -> None:
        self.count += 1
        if self.count > _MAX_VALUES:
            raise _Unsound("too many values")
        if isinstance(v, _PLAIN):
            self.put(type(v).__name__, repr(v))
        elif isinstance(v, enum.Enum):
            self.ref(type(v))
            self.put(v.name)
        elif isinstance(v, (tuple, list)):
            self.put(type(v).__name__, str(len(v)))
            for item in v:
                self.value(item)
        elif isinstance(v, (set, frozenset)):
            self.put(type(v).__name__, str(len(v)))
            for item in sorted(v, key=repr):
                self.value(item)
        elif isinstance(v, dict) and type(v) is dict:
            self.put("dict", str(len(v)))
            for key, item in v.items():
                self.value(key)
                self.value(item)
        elif isinstance(v, types.ModuleType):
            if v.__name__ == "__main__":
                raise _Unsound("the __main__ module itself")
            self.put("module", v.__name__)
        elif isinstance(v, types.FunctionType):
            self.function(v)
        elif isinstance(v, (type, types.BuiltinFunctionType)) or _is_generic_alias(v):
            self.ref(v)
        else:
            self.instance(v)

    def ref(self, obj: Any) -> None:
        """An object the action imports by name (what cloudpickle pickles by reference)."""
        module = getattr(obj, "__module__", None)
        name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
        if _is_generic_alias(obj):
            self.put("alias", repr(obj))
            return
        if module == "__main__" or not module or not name or "<locals>" in name:
            raise _Unsound(f"{obj!r} is not importable by name")
        self.put("ref", module, name)

    def function(self, func: types.FunctionType) -> None:
        if func.__module__ != "__main__":
            self.ref(func)
            return
        if self.again(func, func.__qualname__):
            return
        try:
            source = inspect.getsource(func)
        except (OSError, TypeError):
            raise _Unsound(f"no source for {func.__qualname__}") from None
        self.put("function", func.__qualname__, _normalized(source))
        self.value(func.__defaults__)
        self.value(func.__kwdefaults__)
        for cell in func.__closure__ or ():
            try:
                self.value(cell.cell_contents)
            except ValueError:  # an empty cell
                self.put("empty-cell")
        names = sorted(n for n in _global_names(func.__code__) if n in func.__globals__)
        for name in names:
            self.put("global", name)
            self.value(func.__globals__[name])

    def instance(self, v: Any) -> None:
        from flyte_jupyter._environment import TaskEnvironment
        from flyte_jupyter._task import TaskTemplate

        if getattr(type(v), "_deployed", False):  # a flyte.remote.Task: a reference to a registered version
            details = v._details
            self.put("deployed", v._name, repr(v._project), repr(v._domain), repr(v._version), repr(v._auto_version),
                     details.id.version if details is not None else "")
        elif isinstance(v, TaskTemplate):
            self.ref(type(v))
            if self.again(v, v.name):
                return
            for key, item in sorted(vars(v).items()):
                if key == "env":
                    self.put(key, getattr(item, "name", ""))
                elif key != "__wrapped__":
                    self.put(key)
                    self.value(item)
        elif isinstance(v, TaskEnvironment):
            self.ref(type(v))
            if self.again(v, v.name):
                return
            for key, item in sorted(vars(v).items()):
                self.put(key)
                if key == "_tasks":
                    self.value(sorted(item))  # its tasks by name: each is fingerprinted where it is used
                elif key == "depends_on":
                    self.value([e.name for e in item])
                else:
                    self.value(item)
        elif dataclasses.is_dataclass(v) and type(v).__module__.startswith("flyte_jupyter."):
            self.ref(type(v))
            for field in dataclasses.fields(v):
                self.put(field.name)
                self.value(getattr(v, field.name))
        else:
            raise _Unsound(f"a {type(v).__qualname__} object")


def _is_generic_alias(v: Any) -> bool:
    return type(v).__module__ == "typing" or isinstance(v, types.GenericAlias)


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _normalized(text: str) -> str:
    return "\n".join(line.rstrip() for line in textwrap.dedent(text).strip().splitlines())


def code_fingerprint(tasks: list[Any]) -> str:
    """The fingerprint of the tasks a pickle bundle holds (see the module docstring), or "" when
    it cannot be taken soundly."""
    walk = _Walk()
    try:
        for task in sorted(tasks, key=lambda t: t.name):
            walk.put("task", task.name)
            walk.value(task)
    except (_Unsound, RecursionError):
        return ""
    return walk.digest.hexdigest()


__all__ = ["code_fingerprint"]
