"""Code bundles: deterministic, content-addressed, uploaded once, extracted safely."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from flyte_jupyter._internal.runtime import bundle as _bundle


def _tar(members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for info in members:
            payload = (data or {}).get(info.name)
            if payload is not None:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
            else:
                tar.addfile(info)
    return raw.getvalue()


def test_source_bundles_are_deterministic(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    files = [tmp_path / "pkg" / "a.py", tmp_path / "pkg" / "b.py"]
    for i, f in enumerate(files):
        f.write_text(f"X = {i}\n")
    first = _bundle.make_tgz(tmp_path, files)
    os.utime(files[0], (1, 1))
    assert _bundle.make_tgz(tmp_path, list(reversed(files))) == first
    files[1].write_text("X = 42\n")
    assert _bundle.make_tgz(tmp_path, files) != first
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        assert [m.name for m in tar.getmembers()] == ["pkg/a.py", "pkg/b.py"]
        assert {(m.mtime, m.uid, m.gid, m.uname) for m in tar.getmembers()} == {(0, 0, 0, "")}


def test_unchanged_code_uploads_nothing(tmp_path: Path) -> None:
    store = (tmp_path / "store").as_uri()
    uri, digest = _bundle._upload_once(b"bundle-bytes", store, ".tar.gz")
    path = Path(uri[len("file://"):])
    stamp = path.stat().st_mtime_ns
    again, digest2 = _bundle._upload_once(b"bundle-bytes", store, ".tar.gz")
    assert (again, digest2) == (uri, digest) and path.stat().st_mtime_ns == stamp
    assert digest in uri


@pytest.mark.parametrize("name", ["../evil.py", "a/../../evil.py", "/etc/evil.py"])
def test_members_escaping_the_destination_are_refused(tmp_path: Path, name: str) -> None:
    data = _tar([tarfile.TarInfo(name)], {name: b"x"})
    with pytest.raises(_bundle.UnsafeBundleError) as info:
        _bundle.safe_extract(data, tmp_path / "dest")
    assert repr(name) in str(info.value)
    assert not list(tmp_path.rglob("evil.py"))


def test_links_out_of_the_destination_are_refused_and_inside_allowed(tmp_path: Path) -> None:
    out = tarfile.TarInfo("link")
    out.type, out.linkname = tarfile.SYMTYPE, "../../outside"
    with pytest.raises(_bundle.UnsafeBundleError, match="links to"):
        _bundle.safe_extract(_tar([out]), tmp_path / "dest")
    hard = tarfile.TarInfo("hard")
    hard.type, hard.linkname = tarfile.LNKTYPE, "/etc/passwd"
    with pytest.raises(_bundle.UnsafeBundleError):
        _bundle.safe_extract(_tar([hard]), tmp_path / "dest2")
    target = tarfile.TarInfo("pkg/real.py")
    inside = tarfile.TarInfo("pkg/alias.py")
    inside.type, inside.linkname = tarfile.SYMTYPE, "real.py"
    _bundle.safe_extract(_tar([target, inside], {"pkg/real.py": b"X = 1\n"}), tmp_path / "ok")
    assert (tmp_path / "ok" / "pkg" / "alias.py").read_text() == "X = 1\n"


def test_device_files_are_refused(tmp_path: Path) -> None:
    dev = tarfile.TarInfo("dev")
    dev.type = tarfile.CHRTYPE
    with pytest.raises(_bundle.UnsafeBundleError, match="device"):
        _bundle.safe_extract(_tar([dev]), tmp_path / "dest")
