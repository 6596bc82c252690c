"""File's async handle (lines, seek/tell, writelines), HashFunction cache keys for File and Dir,
Dir.new_remote / EmptyDir, and a Dir walked and downloaded in a local run."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

import flyte_jupyter as flyte
from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._internal.types import from_literal, literal_map_hash, to_literal, to_literal_map
from flyte_jupyter.io import Dir, EmptyDir, File, HashFunction, HashMethod


@pytest.fixture
def raw(tmp_path: Path):
    root = tmp_path / "raw"
    _storage.set_default_raw_data_path(str(root))
    yield root
    _storage.set_default_raw_data_path(None)


@pytest.fixture(params=["local", "memory"])
def where(request, tmp_path: Path) -> str:
    if request.param == "local":
        return (tmp_path / "store").as_uri()
    return f"memory://flyte-handles-{uuid.uuid4().hex}"


async def test_async_handle_lines_seek_tell_and_iteration(where: str) -> None:
    f = File(_storage.join(where, "lines.txt"))
    async with f.open("wb") as fh:
        assert fh.writable() and not fh.closed
        await fh.write(b"one\n")
        await fh.writelines([b"two\n", b"three\n"])
    async with f.open("rb") as fh:
        assert fh.readable() and fh.seekable()
        assert await fh.readline() == b"one\n"
        assert await fh.readlines() == [b"two\n", b"three\n"]
        assert await fh.readline() == b""
        assert fh.seek(0) == 0 and await fh.seek(4) == 4, "seek answers at once and can be awaited"
        assert await fh.read(3) == b"two"
        assert fh.tell() == 7 and await fh.tell() == 7
    async with f.open("rb") as fh:
        assert [line async for line in fh] == [b"one\n", b"two\n", b"three\n"]
    async with f.open("r") as fh:
        assert await fh.read() == "one\ntwo\nthree\n"
    fh = await f.open("rb").__aenter__()
    await fh.close()
    await fh.close()  # closing twice is harmless
    assert fh.closed


async def test_the_handle_is_its_own_async_context_manager(tmp_path: Path) -> None:
    f = File(str(tmp_path / "x.bin"))
    ctx = f.open("wb", block_size=1024, cache_type="readahead", cache_options=None, compression=None)
    async with ctx as fh:
        async with fh:  # Flyte's handles are context managers themselves
            await fh.write(b"abc")
        assert fh.closed
    assert (tmp_path / "x.bin").read_bytes() == b"abc"


def _md5(data: bytes) -> str:
    return hashlib.md5(bytes(data)).hexdigest()


def test_hash_function_protocol() -> None:
    h = HashFunction.from_fn(_md5)
    assert isinstance(h, HashMethod)
    with pytest.raises(ValueError, match="before update"):
        h.result()
    h.update(b"hello")
    assert h.result() == _md5(b"hello")
    with pytest.raises(TypeError, match="callable"):
        HashFunction("nope")  # type: ignore[arg-type]


def test_file_hashes_from_functions_streams_and_strings(tmp_path: Path, raw: Path) -> None:
    src = tmp_path / "data.bin"
    src.write_bytes(b"x" * (3 << 20) + b"tail")  # several chunks
    whole = _md5(src.read_bytes())
    assert File.from_local_sync(src, hash_method=HashFunction.from_fn(_md5)).hash == whole
    streamed = File.from_local_sync(src, hash_method=_Sha()).hash
    assert streamed == hashlib.sha256(src.read_bytes()).hexdigest(), "update/result methods get the chunks"
    assert File.from_local_sync(src, hash_method="my-key").hash == "my-key"
    assert File.from_local_sync(src).hash is None
    with pytest.raises(TypeError, match="hash_method takes a string"):
        File.from_local_sync(src, hash_method=3)


class _Sha:
    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self._h.update(data)

    def result(self) -> str:
        return self._h.hexdigest()


async def test_new_remote_with_a_hash_method_hashes_what_is_written(raw: Path) -> None:
    f = File.new_remote("out.txt", hash_method=HashFunction.from_fn(_md5))
    assert f.hash is None
    async with f.open("wb") as fh:
        await fh.write(b"part one, ")
        await fh.write(b"part two")
    assert f.hash == _md5(b"part one, part two")
    g = File.new_remote(hash_method=_Sha())
    with g.open_sync("w") as fh:
        fh.write("text")
    assert g.hash == hashlib.sha256(b"text").hexdigest()
    assert File.new_remote(hash_method="k").hash == "k"
    lit = to_literal(f, File)
    assert lit.blob.hash == f.hash and from_literal(lit, File).hash == f.hash


def test_a_hash_stands_for_the_content_in_input_hashes(tmp_path: Path) -> None:
    types = {"f": File}
    a = File.from_existing_remote("s3://bucket/a.csv", file_cache_key="v1")
    b = File.from_existing_remote("s3://bucket/elsewhere/b.csv", file_cache_key="v1")
    c = File.from_existing_remote("s3://bucket/a.csv", file_cache_key="v2")
    ha, hb, hc = (literal_map_hash(to_literal_map({"f": x}, types)) for x in (a, b, c))
    assert ha == hb and ha != hc
    plain = [literal_map_hash(to_literal_map({"f": File(p)}, types)) for p in ("s3://b/1", "s3://b/2")]
    assert plain[0] != plain[1], "without a hash the path is the identity"
    dtypes = {"d": Dir}
    d1 = Dir.from_existing_remote("s3://b/x/", dir_cache_key="same")
    d2 = Dir.from_existing_remote("s3://b/y/", dir_cache_key="same")
    assert literal_map_hash(to_literal_map({"d": d1}, dtypes)) == literal_map_hash(to_literal_map({"d": d2}, dtypes))


def test_dir_new_remote_and_empty_dir(raw: Path) -> None:
    d = Dir.new_remote("results", hash="k")
    assert d.path.startswith(raw.as_uri()) and d.name == "results" and d.hash == "k"
    with File(_storage.join(d.path, "r.txt")).open_sync("w") as fh:
        fh.write("r")
    assert [f.name for f in d.walk_sync()] == ["r.txt"]
    e = Dir.empty()
    assert isinstance(e, EmptyDir) and e.is_empty and not d.is_empty
    back = from_literal(to_literal(EmptyDir(), Dir), Dir)
    assert type(back) is Dir and back.is_empty


env = flyte.TaskEnvironment(name="dirs")


@env.task
async def make_tree(names: list[str]) -> Dir:
    import tempfile

    root = Path(tempfile.mkdtemp()) / "tree"
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name.upper())
    return await Dir.from_local(root)


@env.task
async def inspect_tree(d: Dir) -> dict:
    walked = sorted([f.name async for f in d.walk()])
    shallow = sorted([f.name async for f in d.walk(True, 0)])  # Flyte's argument order: recursive, max_depth
    local = await d.download()
    on_disk = sorted(
        os.path.relpath(os.path.join(p, n), local).replace(os.sep, "/") for p, _, ns in os.walk(local) for n in ns
    )
    one = await d.get_file("sub/b.txt")
    assert one is not None
    async with one.open("rb") as fh:
        text = (await fh.read()).decode()
    return {"walked": walked, "shallow": shallow, "on_disk": on_disk, "b": text, "listed": len(await d.list_files())}


@env.task
async def tree_main(names: list[str]) -> dict:
    return await inspect_tree(await make_tree(names))


def test_a_dir_walked_and_downloaded_in_a_local_run() -> None:
    flyte.init()
    out = flyte.run(tree_main, names=["a.txt", "sub/b.txt", "sub/deep/c.txt"]).outputs()
    assert out == {
        "walked": ["a.txt", "b.txt", "c.txt"],
        "shallow": ["a.txt"],
        "on_disk": ["a.txt", "sub/b.txt", "sub/deep/c.txt"],
        "b": "SUB/B.TXT",
        "listed": 1,
    }
