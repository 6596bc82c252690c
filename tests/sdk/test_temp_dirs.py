"""Nothing the SDK downloads or stages outlives its process in the temp directory (downloads, a SQL
task's database copy, `flyte.storage` scratch paths), and the test suite's own temp files stay in
pytest's base temp directory."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="scratch")


@env.task
def leaves_scratch() -> str:
    import flyte_jupyter.storage as storage

    path = storage.get_random_local_path("note.txt")
    path.write_text("made by the action")
    return str(path)

_USE_AND_EXIT = textwrap.dedent('''
    import fsspec
    fsspec.filesystem("memory").pipe("/b/note.txt", b"hi")
    fsspec.filesystem("memory").pipe("/b/tree/x.txt", b"x")
    import flyte_jupyter.storage as storage
    from flyte_jupyter.io import Dir, File
    from flyte_jupyter._internal.runtime.sql import sqlite_path

    got = File(path="memory://b/note.txt").download_sync()
    assert open(got).read() == "hi"
    tree = Dir(path="memory://b/tree").download_sync()
    assert os.listdir(tree) == ["x.txt"]
    storage.get_random_local_directory()
    storage.get_random_local_path("name.txt")
    sqlite_path("memory://b/note.txt")
    print("USED", sorted(os.listdir(tempfile.gettempdir())))
''')


def test_downloads_and_scratch_paths_are_gone_when_the_process_exits(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.run([sys.executable, "-c", "import os, tempfile\n" + _USE_AND_EXIT], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "USED ['flyte-jupyter-" in proc.stdout  # one root per process while it runs
    assert os.listdir(tmp) == []


def test_an_actions_scratch_goes_when_the_action_ends(backend_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The backend's action processes end with os._exit (no atexit) or run the next action."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    backend = backend_factory(env={"TMPDIR": str(tmp)}).start()
    backend.use()
    try:
        path = flyte.with_runcontext(mode="remote").run(leaves_scratch).outputs()
    finally:
        flyte.init()
    assert Path(path).is_relative_to(tmp)  # the action made it in its scratch ...
    assert not os.path.exists(path)  # ... which went with it
    assert not [p for p in os.listdir(tmp) if p.startswith("flyte-jupyter-")]


def test_the_suite_keeps_its_temp_files_under_pytests_base_temp(tmp_path_factory: pytest.TempPathFactory) -> None:
    base = tmp_path_factory.getbasetemp()
    assert Path(tempfile.gettempdir()).is_relative_to(base)
    assert Path(os.environ["TMPDIR"]).is_relative_to(base)  # what backends, kernels and programs inherit
