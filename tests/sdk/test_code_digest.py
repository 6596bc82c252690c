"""A task's code_digest (what resume compares) covers the module code its body reaches: a changed
helper, class, called task or constant changes it; unrelated code and other modules do not."""

from __future__ import annotations

import linecache
import types
from typing import Any

from flyte_jupyter._internal.runtime.spec import _code_digest

BASE = '''
import json
import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="digest")
SCALE = 3
NAMES = {"b", "a"}
UNUSED = 1

def clean(x):
    return x + OFFSET

OFFSET = 10

def helper(x):
    return clean(x) * SCALE

class Box:
    def size(self):
        return len(NAMES)

@env.task
def child(x: int) -> int:
    return x - 1

@env.task
def work(x: int) -> int:
    return helper(x) + Box().size() + child(x) + len(json.dumps(x))

def unrelated():
    return 42
'''


def _module(source: str, name: str = "nbcells") -> dict[str, Any]:
    """The source as a module the way a notebook's cells are one: its own name, its lines in
    linecache (as IPython keeps cells), so inspect finds the sources."""
    filename = f"<digest-{abs(hash(source))}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(name)
    exec(compile(source, filename, "exec"), module.__dict__)
    return module.__dict__


def _digest(source: str) -> str:
    return _code_digest(_module(source)["work"])


def test_the_same_code_gives_the_same_digest() -> None:
    assert _digest(BASE) == _digest(BASE)
    assert len(_digest(BASE)) == 32


def test_a_changed_helper_changes_the_digest_also_two_calls_deep() -> None:
    base = _digest(BASE)
    assert _digest(BASE.replace("return clean(x) * SCALE", "return clean(x) * SCALE + 1")) != base
    assert _digest(BASE.replace("return x + OFFSET", "return x + OFFSET - 1")) != base  # helper -> clean


def test_a_changed_constant_class_or_called_task_changes_the_digest() -> None:
    base = _digest(BASE)
    assert _digest(BASE.replace("SCALE = 3", "SCALE = 4")) != base
    assert _digest(BASE.replace("OFFSET = 10", "OFFSET = 11")) != base  # read by clean, via helper
    assert _digest(BASE.replace('NAMES = {"b", "a"}', 'NAMES = {"b", "a", "c"}')) != base  # via Box.size
    assert _digest(BASE.replace("return len(NAMES)", "return len(NAMES) + 1")) != base
    assert _digest(BASE.replace("return x - 1", "return x - 2")) != base  # the task it calls


def test_unrelated_code_other_modules_and_decorators_leave_it_alone() -> None:
    base = _digest(BASE)
    assert _digest(BASE.replace("return 42", "return 43")) == base
    assert _digest(BASE.replace("UNUSED = 1", "UNUSED = 2")) == base
    assert _digest(BASE.replace("@env.task\ndef work", "@env.task(retries=2)\ndef work")) == base
    assert _digest(BASE.replace("import json", "import json, os")) == base


def test_a_set_constant_digests_the_same_whatever_its_order() -> None:
    assert _digest(BASE) == _digest(BASE.replace('NAMES = {"b", "a"}', 'NAMES = {"a", "b"}'))


def test_a_large_or_opaque_constant_is_left_out_not_an_error() -> None:
    big = BASE.replace("SCALE = 3", "SCALE = 3\nBLOB = list(range(100000))\nLOCK = object()") \
        .replace("return clean(x) * SCALE", "return clean(x) * SCALE + len(BLOB) + id(LOCK) * 0")
    assert _digest(big) == _digest(big.replace("100000", "100001"))  # too long a repr: not part of it
