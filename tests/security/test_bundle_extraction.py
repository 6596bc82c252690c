"""Hostile code bundles are refused whole: nothing lands outside the destination, nothing half-extracted.

Each archive is built with tarfile in tmp_path. The destination is a folder a few levels below
tmp_path, so an escape (which the old extractor allowed for a chain of symlinks, or a link followed by
a member written through it) would land in tmp_path; every test compares the whole tree of tmp_path
before and after.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tarfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import pytest

import flyte_jupyter as flyte
from flyte_jupyter._internal.runtime import bundle as _bundle
from flyte_jupyter.errors import ActionFailedError, UnsafeBundleError

env = flyte.TaskEnvironment(name="bundle_security")


@env.task
def square(x: int) -> int:
    return x * x


# -- building archives -----------------------------------------------------------------------------


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def _special(name: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info, None


def _tgz(*members: tuple[tarfile.TarInfo, Any], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if isinstance(data, bytes) else data)
    return raw.getvalue()


class _Zeros(io.RawIOBase):
    """`n` zero bytes, produced as read: a big member costs no memory to write."""

    def __init__(self, n: int) -> None:
        self.left = n

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n


def _zeros(name: str, n: int) -> tuple[tarfile.TarInfo, Any]:
    info = tarfile.TarInfo(name)
    info.size = n
    return info, io.BufferedReader(_Zeros(n))


def _tree(root: Path) -> set[str]:
    """Every path under root (links not followed), relative."""
    out = set()
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            out.add(os.path.relpath(os.path.join(folder, name), root))
    return out


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "victim.txt").write_text("original")
    (tmp_path / "a" / "b").mkdir(parents=True)
    return tmp_path / "a" / "b" / "dest"


def _refused(data: bytes, dest: Path, *fragments: str) -> UnsafeBundleError:
    """Extracting `data` is refused with a message holding every fragment, and changes nothing."""
    root = dest.parents[2]
    before = _tree(root)
    contents = {p: (root / p).read_bytes() for p in before if (root / p).is_file() and not (root / p).is_symlink()}
    with pytest.raises(UnsafeBundleError) as info:
        _bundle.safe_extract(data, dest)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert _tree(root) == before  # nothing escaped, no staging directory or partial file left
    assert {p: (root / p).read_bytes() for p in contents} == contents
    return info.value


# -- escapes ---------------------------------------------------------------------------------------


def test_a_chain_of_symlinks_cannot_climb_out(dest: Path) -> None:
    data = _tgz(_link("d", "."), _link("u1", "d/.."), _link("u2", "u1/.."), _link("u3", "u2/.."),
                _file("u3/escaped.txt", b"pwned"), _file("u3/outside/victim.txt", b"pwned"))
    _refused(data, dest, "'u1'", "'d/..'", "resolves outside")


def test_a_chain_of_symlinks_in_an_existing_destination_cannot_climb_out(dest: Path) -> None:
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    data = _tgz(_file("good.py", b"X = 1\n"), _link("d", "."), _link("u1", "d/.."), _file("u1/escaped.txt"))
    _refused(data, dest, "'u1'", "resolves outside")


def test_a_link_to_a_missing_member_is_refused(dest: Path) -> None:
    # `later` does not exist yet: were the link made, `later -> .` could turn it into `..` afterwards
    data = _tgz(_link("up", "later/.."), _link("later", "."), _file("up/escaped.txt"))
    _refused(data, dest, "'up'", "not in the bundle")


@pytest.mark.parametrize("target", ["../outside", "../../../outside/victim.txt", "/etc/passwd", "pkg/../../x"])
def test_symlinks_out_of_the_destination_are_refused(dest: Path, target: str) -> None:
    _refused(_tgz(_file("pkg/a.py"), _link("evil", target), _file("evil/victim.txt")), dest, "'evil'", "links to")


def test_a_link_made_earlier_cannot_be_overwritten_through(dest: Path) -> None:
    data = _tgz(_file("real.py", b"X = 1\n"), _link("alias.py", "real.py"), _file("alias.py", b"X = 'pwned'\n"))
    _refused(data, dest, "'alias.py'", "already in the bundle")


def test_a_file_made_earlier_cannot_be_overwritten(dest: Path) -> None:
    _refused(_tgz(_file("a.py", b"1"), _file("a.py", b"2")), dest, "'a.py'", "already in the bundle")


def test_a_directory_link_inside_is_followed_only_inside(dest: Path) -> None:
    data = _tgz(_file("pkg/real.py", b"X = 1\n"), _link("alias", "pkg"), _file("alias/new.py", b"Y = 2\n"))
    _bundle.safe_extract(data, dest)
    assert (dest / "pkg" / "new.py").read_bytes() == b"Y = 2\n"
    assert os.readlink(dest / "alias") == "pkg"


@pytest.mark.parametrize("target", ["/etc/passwd", "../../../outside/victim.txt", "inside.py"])
def test_hard_links_are_refused(dest: Path, target: str) -> None:
    data = _tgz(_file("inside.py"), _link("hard", target, tarfile.LNKTYPE), _file("hard", b"pwned"))
    _refused(data, dest, "'hard'", "hard link")


@pytest.mark.parametrize("name", ["/abs/evil.py", "../evil.py", "a/../../evil.py", "ok/../evil.py", "C:/evil.py",
                                  "a\\..\\..\\evil.py"])
def test_absolute_and_dotdot_names_are_refused(dest: Path, name: str) -> None:
    _refused(_tgz(_file("first.py"), _file(name)), dest, repr(name))


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_devices_and_fifos_are_refused(dest: Path, kind: bytes) -> None:
    _refused(_tgz(_file("first.py"), _special("node", kind)), dest, "'node'", "device or fifo")


def test_links_already_in_an_existing_destination_are_replaced_not_followed(tmp_path: Path, dest: Path) -> None:
    outside = tmp_path / "outside"
    dest.mkdir()
    (dest / "victim.py").symlink_to(outside / "victim.txt")
    (dest / "pkg").symlink_to(outside)
    _bundle.safe_extract(_tgz(_file("victim.py", b"X = 1\n"), _file("pkg/victim.txt", b"pwned")), dest)
    assert (outside / "victim.txt").read_text() == "original" and _tree(outside) == {"victim.txt"}
    assert not (dest / "victim.py").is_symlink() and (dest / "victim.py").read_bytes() == b"X = 1\n"
    assert not (dest / "pkg").is_symlink() and (dest / "pkg" / "victim.txt").read_bytes() == b"pwned"


def test_a_refused_bundle_leaves_an_existing_destination_as_it_was(dest: Path) -> None:
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    (dest / "pkg").mkdir()
    _refused(_tgz(_file("pkg/a.py", b"1"), _file("keep.txt", b"replaced"), _file("../evil.py")), dest, "'../evil.py'")
    assert _tree(dest) == {"keep.txt", "pkg"}


# -- caps ------------------------------------------------------------------------------------------


def test_a_gzip_bomb_is_refused_before_its_data_is_read(dest: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_JUPYTER_BUNDLE_MAX_BYTES", str(10 << 20))
    data = _tgz(_file("small.py"), _zeros("bomb.bin", 11 << 20))
    assert len(data) < 100_000
    _refused(data, dest, "'bomb.bin'", str(10 << 20), "FLYTE_JUPYTER_BUNDLE_MAX_BYTES", str(11 << 20))


def test_the_size_cap_counts_every_member(dest: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_JUPYTER_BUNDLE_MAX_BYTES", str(10 << 20))
    data = _tgz(_zeros("one.bin", 6 << 20), _zeros("two.bin", 6 << 20))
    _refused(data, dest, "'two.bin'", "FLYTE_JUPYTER_BUNDLE_MAX_BYTES")


def test_the_size_cap_counts_headers_too(dest: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_JUPYTER_BUNDLE_MAX_BYTES", str(64 << 10))
    members = []
    for i in range(100):
        info, data = _file(f"f{i}.py", b"")
        info.pax_headers = {"comment": "x" * 2048}
        members.append((info, data))
    _refused(_tgz(*members), dest, "more than 65536 bytes", "FLYTE_JUPYTER_BUNDLE_MAX_BYTES")


def test_a_huge_extended_header_is_refused(dest: Path) -> None:
    info, data = _file("a.py")
    info.pax_headers = {"comment": "x" * (2 << 20)}
    _refused(_tgz((info, data)), dest, "extended tar header", str(1 << 20))


def test_too_many_members_are_refused(dest: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_JUPYTER_BUNDLE_MAX_MEMBERS", "100")
    data = _tgz(*[_file(f"m/{i}.py", b"") for i in range(101)])
    _refused(data, dest, "more than 100 members", "FLYTE_JUPYTER_BUNDLE_MAX_MEMBERS", "'m/100.py'")
    _bundle.safe_extract(_tgz(*[_file(f"m/{i}.py", b"") for i in range(100)]), dest)
    assert len(list((dest / "m").iterdir())) == 100


def test_long_names_are_refused(dest: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_JUPYTER_BUNDLE_MAX_NAME", "50")
    _refused(_tgz(_file("a" * 60 + ".py")), dest, "63 characters", "FLYTE_JUPYTER_BUNDLE_MAX_NAME")
    _refused(_tgz(_file("t.py"), _link("l", "./" * 30 + "t.py")), dest, "'l'", "FLYTE_JUPYTER_BUNDLE_MAX_NAME")


def test_default_caps_and_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("FLYTE_JUPYTER_BUNDLE_MAX_BYTES", "FLYTE_JUPYTER_BUNDLE_MAX_MEMBERS", "FLYTE_JUPYTER_BUNDLE_MAX_NAME"):
        monkeypatch.delenv(var, raising=False)
    assert _bundle.BundleLimits.from_env() == _bundle.BundleLimits(512 << 20, 20_000, 1024)
    monkeypatch.setenv("FLYTE_JUPYTER_BUNDLE_MAX_MEMBERS", "lots")
    with pytest.raises(ValueError, match="FLYTE_JUPYTER_BUNDLE_MAX_MEMBERS"):
        _bundle.BundleLimits.from_env()


def test_members_are_streamed_not_read_whole(dest: Path) -> None:
    data = _tgz(_zeros("big.bin", 48 << 20))
    tracemalloc.start()
    try:
        _bundle.safe_extract(data, dest)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (dest / "big.bin").stat().st_size == 48 << 20
    assert peak < 12 << 20, peak


def test_a_pickle_bundle_is_capped_when_decompressed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cloudpickle

    monkeypatch.setenv("FLYTE_JUPYTER_BUNDLE_MAX_BYTES", str(10 << 20))
    store = (tmp_path / "store").as_uri()
    small, _ = _bundle._upload_once(gzip.compress(cloudpickle.dumps({"tasks": {"t": 42}, "root": "t"})), store,
                                    ".pkl.gz")
    assert _bundle.load_pickle_bundle(small) == {"t": 42}
    payload = cloudpickle.dumps({"tasks": {"t": bytes(11 << 20)}, "root": "t"})
    bomb, _ = _bundle._upload_once(gzip.compress(payload, compresslevel=1), store, ".pkl.gz")
    with pytest.raises(UnsafeBundleError, match="FLYTE_JUPYTER_BUNDLE_MAX_BYTES") as info:
        _bundle.load_pickle_bundle(bomb)
    assert str(10 << 20) in str(info.value) and bomb in str(info.value)
    assert bomb not in _bundle._PICKLE_BUNDLES


# -- real bundles still work -----------------------------------------------------------------------


def test_a_bundle_made_by_build_bundle_extracts_and_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = _bundle.build_bundle(square, (tmp_path / "store").as_uri())
    assert bundle.kind == "tgz" and bundle.module_name == __name__
    monkeypatch.setenv("FLYTE_JUPYTER_BUNDLE_CACHE", str(tmp_path / "cache"))
    root = _bundle.fetch_and_extract(bundle.uri, ".")
    assert Path(root, ".complete").exists() and _bundle.fetch_and_extract(bundle.uri, ".") == root
    assert sorted(os.listdir(tmp_path / "cache")) == [bundle.digest]  # no staging or tmp directory left
    plain = _bundle.fetch_and_extract(bundle.uri, str(tmp_path / "plain"))
    for where in (root, plain):
        code = (f"import sys; sys.path.insert(0, {where!r}); import {__name__} as m; "
                f"assert m.__file__.startswith({where!r}), m.__file__; print(m.square.func(7))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and out.stdout.strip() == "49", out.stderr


def test_archives_made_by_gnu_tar_extract(dest: Path) -> None:
    dot = tarfile.TarInfo("./")
    dot.type = tarfile.DIRTYPE
    pkg = tarfile.TarInfo("./pkg/")
    pkg.type = tarfile.DIRTYPE
    data = _tgz((dot, None), (pkg, None), _file("./pkg/__init__.py", b""), _file("./pkg/mod.py", b"X = 1\n"),
                fmt=tarfile.GNU_FORMAT)
    _bundle.safe_extract(data, dest)
    assert _tree(dest) == {"pkg", "pkg/__init__.py", "pkg/mod.py"}
    assert (dest / "pkg" / "mod.py").read_text() == "X = 1\n"


def test_a_refused_bundle_leaves_nothing_in_the_bundle_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_JUPYTER_BUNDLE_CACHE", str(tmp_path / "cache"))
    uri, _ = _bundle._upload_once(_tgz(_link("d", "."), _link("u", "d/.."), _file("u/escaped.txt")),
                                  (tmp_path / "store").as_uri(), ".tar.gz")
    with pytest.raises(UnsafeBundleError, match="'u'"):
        _bundle.fetch_and_extract(uri, ".")
    assert os.listdir(tmp_path / "cache") == [] and not list(tmp_path.rglob("escaped.txt"))


# -- through a real run ----------------------------------------------------------------------------


def test_a_hostile_bundle_fails_its_run_on_the_backend(flyte_backend, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    marker = f"escaped-{uuid.uuid4().hex}.txt"
    data = _tgz(_link("d", "."), _link("u1", "d/.."), _link("u2", "u1/.."), _link("u3", "u2/.."),
                _file(f"u1/{marker}"), _file(f"u2/{marker}"), _file(f"u3/{marker}"))

    def hostile(task: Any, storage_root: str) -> _bundle.Bundle:
        uri, digest = _bundle._upload_once(data, storage_root, ".tar.gz")
        return _bundle.Bundle("tgz", uri, digest, module_name=task.func.__module__)

    monkeypatch.setattr(_bundle, "build_bundle", hostile)
    run = flyte.with_runcontext(mode="remote").run(square, x=3)
    with pytest.raises(ActionFailedError) as info:
        run.outputs()
    assert info.value.kind == "UnsafeBundleError" and "'u1'" in info.value.message, info.value.message
    base = flyte_backend.data_dir.parent
    assert not list(base.rglob(marker)) and not (base.parent / marker).exists()
    cache = flyte_backend.data_dir / "bundles"  # where the local executor extracts bundles

    def leftovers() -> list[str]:
        names = [p.name for p in cache.iterdir()] if cache.exists() else []
        return [n for n in names if n.startswith(".flyte-bundle-") or ".tmp-" in n]

    # The bundle's template, started beside the failed action, may still be refusing the same
    # bundle (its staging dir exists until it has): nothing may be left once it has.
    deadline = time.monotonic() + 15
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not leftovers(), leftovers()
