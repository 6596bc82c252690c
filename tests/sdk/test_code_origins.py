"""A pickle bundle keeps where its notebook code came from, so an action's traceback names the cell
(cloudpickle >= 3.1 writes `<dynamic-code>` for the file of every code object it pickles)."""

from __future__ import annotations

import gzip
import linecache
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

from flyte_jupyter._internal.runtime import bundle as _bundle
from flyte_jupyter._internal.runtime.code_origins import DYNAMIC, cell_id

CELL_FILE = "/tmp/ipykernel_4242/3141592653.py"  # as ipykernel names a cell: the kernel's pid in it
CELL = "def broken(x):\n    def inner():\n        return 1 // x\n    return inner()\n"


@pytest.fixture
def cell_function() -> Iterator[Any]:
    """A function as a notebook cell defines it: its source only in linecache (mtime None)."""
    lines = CELL.splitlines(True)
    linecache.cache[CELL_FILE] = (len(CELL), None, lines, CELL_FILE)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(CELL, CELL_FILE, "exec"), namespace)
    try:
        yield namespace["broken"]
    finally:
        linecache.cache.pop(CELL_FILE, None)


ACTION = textwrap.dedent("""
    import sys
    import cloudpickle
    from flyte_jupyter._internal.runtime import bundle, code_origins
    tasks = bundle.load_pickle_bundle(sys.argv[1])
    print(tasks["t"].__code__.co_filename)
    again = bundle.pickle_tasks(tasks, "t")  # as an action does for a child outside its bundle
    print(again == bundle.pickle_tasks(tasks, "t"), sorted(set(cloudpickle.loads(again)["code_origins"].values())))
    try:
        tasks["t"](0)
    except ZeroDivisionError as exc:
        print(code_origins.format_traceback(exc))
""")


def test_an_action_traceback_names_the_cell_of_pickled_code(cell_function: Any, tmp_path: Path) -> None:
    payload = _bundle.pickle_tasks({"t": cell_function}, "t")
    assert payload == _bundle.pickle_tasks({"t": cell_function}, "t")  # deterministic: deploy digests
    assert b"ipykernel_4242" not in payload  # nothing of this kernel session in the bytes
    uri, _ = _bundle._upload_once(gzip.compress(payload, mtime=0), (tmp_path / "store").as_uri(), ".pkl.gz")

    # the action: a fresh process, with no copy of the cell
    out = subprocess.run([sys.executable, "-c", ACTION, uri], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    filename, again, *tb = out.stdout.splitlines()
    # cloudpickle >= 3.1 rewrites the file name; older versions keep it (and then it is what shows)
    expected = cell_id(CELL.splitlines(True)) if filename == DYNAMIC else CELL_FILE
    text = "\n".join(tb)
    assert f'File "{expected}", line 4, in broken' in text and f'File "{expected}", line 3, in inner' in text, text
    assert DYNAMIC not in text
    # the code pickled again keeps its origin, and its bytes are still deterministic
    assert again == f"True ['{expected}']"


def test_a_bundle_without_origins_still_loads(tmp_path: Path) -> None:
    import cloudpickle

    uri, _ = _bundle._upload_once(gzip.compress(cloudpickle.dumps({"tasks": {"t": 7}, "root": "t"}), mtime=0),
                                  (tmp_path / "store").as_uri(), ".pkl.gz")
    assert _bundle.load_pickle_bundle(uri) == {"t": 7}
