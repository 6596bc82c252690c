"""io.File / io.Dir and the storage helpers, through real file:// and fsspec (memory://) storage."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from flyte_jupyter._context import ActionID, TaskContext, task_context
from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._internal.types import Offloader, from_literal, to_literal
from flyte_jupyter.io import Dir, File


@pytest.fixture
def raw(tmp_path: Path):
    """A default raw data path under tmp_path for uploads without an explicit destination."""
    root = tmp_path / "raw"
    _storage.set_default_raw_data_path(str(root))
    yield root
    _storage.set_default_raw_data_path(None)


def _tree(root: Path) -> Path:
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "a.txt").write_text("A")
    (root / "b.csv").write_text("1,2\n")
    (root / "sub" / "c.txt").write_text("C")
    (root / "sub" / "deep" / "d.txt").write_text("D")
    return root


# ---- storage helpers ------------------------------------------------------------------------


def test_uri_helpers(tmp_path: Path) -> None:
    uri = _storage.to_uri(tmp_path / "x y")
    assert uri.startswith("file:///") and "x%20y" in uri
    assert _storage.local_path(uri) == str(tmp_path / "x y")
    assert _storage.is_local(uri) and _storage.is_local("/a/b") and not _storage.is_local("s3://b/k")
    assert _storage.to_uri("s3://b/k") == "s3://b/k"
    assert _storage.join("s3://b/", "/x/", "y") == "s3://b/x/y"
    assert _storage.join("file:///tmp", "a", "", "b/") == "file:///tmp/a/b"
    with pytest.raises(ValueError, match="not a local path; download it first"):
        _storage.local_path("s3://bucket/key")


@pytest.mark.parametrize("scheme", ["file", "memory"])
def test_bytes_files_and_dirs_through_storage(tmp_path: Path, scheme: str) -> None:
    base = (tmp_path / "store").as_uri() if scheme == "file" else f"memory://flyte-test-{uuid.uuid4().hex}"
    key = _storage.join(base, "a", "b.bin")
    assert not _storage.exists(key)
    _storage.put_bytes(key, b"hello")
    assert _storage.exists(key) and _storage.get_bytes(key) == b"hello"

    src = tmp_path / "f.txt"
    src.write_text("file body")
    up = _storage.upload_file(src, _storage.join(base, "files", "f.txt"))
    got = _storage.download_file(up, tmp_path / "out" / "f.txt")
    assert Path(got).read_text() == "file body"

    tree = _tree(tmp_path / "tree")
    dest = _storage.upload_dir(tree, _storage.join(base, "tree"))
    assert _storage.list_files(dest, relative=True) == ["a.txt", "b.csv", "sub/c.txt", "sub/deep/d.txt"]
    assert _storage.list_files(dest, recursive=False, relative=True) == ["a.txt", "b.csv"]
    assert _storage.list_files(dest, recursive=False) == [_storage.join(dest, "a.txt"), _storage.join(dest, "b.csv")]
    local = Path(_storage.download_dir(dest, tmp_path / "copy"))
    assert (local / "sub" / "deep" / "d.txt").read_text() == "D"
    with _storage.open_file(_storage.join(base, "w", "new.txt"), "w") as fh:
        fh.write("written")
    assert _storage.get_bytes(_storage.join(base, "w", "new.txt")) == b"written"


def test_missing_sources_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        _storage.upload_file(tmp_path / "nope", (tmp_path / "x").as_uri())
    with pytest.raises(FileNotFoundError, match="no such file"):
        _storage.download_file((tmp_path / "nope").as_uri(), tmp_path / "x")
    with pytest.raises(NotADirectoryError):
        _storage.upload_dir(tmp_path / "nope", (tmp_path / "x").as_uri())


# ---- io.File --------------------------------------------------------------------------------


def test_file_from_local_sync_download_and_open(tmp_path: Path, raw: Path) -> None:
    src = tmp_path / "data.csv"
    src.write_text("a,b\n1,2\n")
    f = File.from_local_sync(src)
    assert f.name == "data.csv"
    assert f.path.startswith(raw.as_uri()) and f.path.endswith("/data.csv")
    assert f.exists_sync()
    src.unlink()  # the upload is a copy
    with f.open_sync("r") as fh:
        assert fh.read() == "a,b\n1,2\n"
    out = f.download_sync(tmp_path / "dl")
    assert out == str(tmp_path / "dl") and Path(out).read_text() == "a,b\n1,2\n"
    (tmp_path / "into").mkdir()
    assert f.download_sync(tmp_path / "into") == str(tmp_path / "into" / "data.csv")

    dest = (tmp_path / "explicit" / "x.csv").as_uri()
    g = File.from_local_sync(out, remote_destination=dest)
    assert g.path == dest and g.name == "dl"
    assert not File.from_existing_remote((tmp_path / "absent").as_uri()).exists_sync()
    with pytest.raises(FileNotFoundError, match="is not a file"):
        File.from_local_sync(tmp_path / "absent")


async def test_file_async_api(tmp_path: Path, raw: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(b"\x00\x01binary")
    f = await File.from_local(str(src))
    assert await f.exists()
    async with f.open("rb") as fh:
        assert bytes(await fh.read()) == b"\x00\x01binary"
    local = await f.download(tmp_path / "copy.bin")
    assert Path(local).read_bytes() == b"\x00\x01binary"

    out = File.new_remote("result.txt")
    assert out.path.startswith(raw.as_uri()) and out.name == "result.txt"
    assert not await out.exists()
    async with out.open("wb") as fh:
        await fh.write(b"line1\nline2\n")
    async with out.open("rb") as fh:
        assert [line async for line in fh] == [b"line1\n", b"line2\n"]
    assert File.new_remote().path != File.new_remote().path


async def test_file_in_memory_filesystem_streams(tmp_path: Path) -> None:
    f = File.from_existing_remote(f"memory://flyte-test-{uuid.uuid4().hex}/obj.txt")
    async with f.open("wb") as fh:
        await fh.write(b"remote bytes")
    assert f.exists_sync()
    async with f.open("rb") as fh:
        assert await fh.read() == b"remote bytes"
    local = f.download_sync()
    assert os.path.basename(local) == "obj.txt" and Path(local).read_bytes() == b"remote bytes"


def test_uploads_go_to_the_running_tasks_raw_data_path(tmp_path: Path, raw: Path) -> None:
    src = tmp_path / "x.txt"
    src.write_text("x")
    task_raw = (tmp_path / "task-raw").as_uri()
    tc = TaskContext(action=ActionID(name="a0", run_name="r1"), mode="local", raw_data_path=task_raw)
    with task_context(tc):
        f = File.from_local_sync(src)
        named = File.named_remote("stable.txt")
    assert f.path.startswith(task_raw + "/")
    assert named.path == task_raw + "/named/stable.txt"
    assert File.from_local_sync(src).path.startswith(raw.as_uri())


def test_file_value_semantics() -> None:
    assert File("s3://b/k") == File("s3://b/k", name="k")
    assert File("s3://b/k") != File("s3://b/k", format="csv")
    assert File["csv"] is File
    assert "s3://b/k" in repr(File("s3://b/k"))
    assert len({File("s3://b/k"), File("s3://b/k")}) == 1


# ---- io.Dir ---------------------------------------------------------------------------------


def test_dir_upload_walk_list_get_download(tmp_path: Path, raw: Path) -> None:
    d = Dir.from_local_sync(_tree(tmp_path / "data"))
    assert d.name == "data" and d.path.startswith(raw.as_uri())
    assert d.exists_sync()
    assert [f.name for f in d.walk_sync()] == ["a.txt", "b.csv", "c.txt", "d.txt"]
    assert [f.name for f in d.walk_sync(recursive=False)] == ["a.txt", "b.csv"]
    assert [f.name for f in d.walk_sync(file_pattern="*.txt", max_depth=1)] == ["a.txt", "c.txt"]
    assert [f.name for f in d.list_files_sync()] == ["a.txt", "b.csv"]
    c = d.get_file_sync("sub/c.txt")
    assert c is not None and c.name == "c.txt"
    with c.open_sync("r") as fh:
        assert fh.read() == "C"
    assert d.get_file_sync("missing.txt") is None and d.get_file_sync("sub") is None
    out = Path(d.download_sync(tmp_path / "restored"))
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a.txt",
        "b.csv",
        "sub/c.txt",
        "sub/deep/d.txt",
    ]
    with pytest.raises(NotADirectoryError, match="is not a directory"):
        Dir.from_local_sync(tmp_path / "data" / "a.txt")


async def test_dir_async_api(tmp_path: Path, raw: Path) -> None:
    dest = (tmp_path / "explicit").as_uri()
    d = await Dir.from_local(str(_tree(tmp_path / "data")), remote_destination=dest)
    assert d.path == dest and await d.exists()
    names = [f.name async for f in d.walk()]
    assert names == ["a.txt", "b.csv", "c.txt", "d.txt"]
    assert [f.name for f in await d.list_files()] == ["a.txt", "b.csv"]
    f = await d.get_file("sub/deep/d.txt")
    assert f is not None
    async with f.open("rb") as fh:
        assert await fh.read() == b"D"
    local = await d.download(tmp_path / "dl")
    assert (Path(local) / "sub" / "c.txt").read_text() == "C"


def test_dir_through_memory_filesystem(tmp_path: Path) -> None:
    d = Dir.from_local_sync(_tree(tmp_path / "data"), remote_destination=f"memory://flyte-test-{uuid.uuid4().hex}/d")
    assert [f.name for f in d.walk_sync()] == ["a.txt", "b.csv", "c.txt", "d.txt"]
    local = Path(d.download_sync())
    assert (local / "sub" / "deep" / "d.txt").read_text() == "D"


# ---- File and Dir as task values ------------------------------------------------------------


def test_file_and_dir_pass_through_the_serializer(tmp_path: Path, raw: Path) -> None:
    src = tmp_path / "v.txt"
    src.write_text("value")
    f = File.from_local_sync(src)
    d = Dir.from_local_sync(_tree(tmp_path / "data"))
    off = Offloader((tmp_path / "outputs").as_uri())
    for value, tp in ((f, File), (d, Dir), ([f, f], list[File]), ({"d": d}, dict[str, Dir])):
        back = from_literal(to_literal(value, tp, offload=off), tp)
        assert back == value  # already in storage: the reference is passed, not copied
    got = from_literal(to_literal(f, File), File)
    with got.open_sync("rb") as fh:
        assert fh.read() == b"value"


def test_uploads_outside_a_task_default_to_the_local_data_dir(tmp_path: Path, isolated_data_dir: Path) -> None:
    src = tmp_path / "x.txt"
    src.write_text("x")
    f = File.from_local_sync(src)
    assert f.path.startswith((isolated_data_dir / "raw").as_uri() + "/")
    with f.open_sync("r") as fh:
        assert fh.read() == "x"
