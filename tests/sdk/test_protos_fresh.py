"""The committed generated protobuf/gRPC modules match their .proto sources."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIX = "python scripts/gen_protos.py"

# Lines that only record which protoc/grpcio-tools produced a file; another tools version on the
# test machine must not count as a stale proto.
_VERSION_STAMP = re.compile(
    r"^(# Protobuf Python Version:.*|GRPC_GENERATED_VERSION = .*)$|"
    r"(_runtime_version\.ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,\s*)\d+,\s*\d+,\s*\d+,",
    re.MULTILINE,
)


def _normalize(text: str) -> str:
    return _VERSION_STAMP.sub(lambda m: m.group(2) or "<version>", text)


def _gen_module():
    spec = importlib.util.spec_from_file_location("_gen_protos", REPO / "scripts" / "gen_protos.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    gen = _gen_module()
    protos = gen.proto_files(REPO)
    assert protos, "no .proto files found under flyte_jupyter/_internal/wire/proto"
    fresh = gen.generate(tmp_path, REPO)

    stale, missing = [], []
    for rel in fresh:
        committed = REPO / rel
        if not committed.exists():
            missing.append(rel)
        elif _normalize(committed.read_text()) != _normalize((tmp_path / rel).read_text()):
            stale.append(rel)
    assert not missing, f"generated files missing from the repository: {missing}; run `{FIX}` and commit them"
    assert not stale, f"generated files are stale: {stale}; run `{FIX}` and commit the result"


def test_no_orphaned_generated_files() -> None:
    """A generated module whose .proto was deleted (or lost its service) must go too."""
    gen = _gen_module()
    expected = {name for rel in gen.proto_files(REPO) for name in gen.generated_names(rel, REPO)}
    proto_dir = REPO / "flyte_jupyter" / "_internal" / "wire" / "proto"
    present = {
        p.relative_to(REPO).as_posix()
        for pattern in ("*_pb2.py", "*_pb2.pyi", "*_pb2_grpc.py")
        for p in proto_dir.glob(pattern)
    }
    orphans = sorted(present - expected)
    assert not orphans, f"generated files without a matching .proto: {orphans}; delete them or run `{FIX}`"


def test_generated_modules_import() -> None:
    gen = _gen_module()
    for rel in gen.proto_files(REPO):
        module = rel[: -len(".proto")].replace("/", ".") + "_pb2"
        __import__(module)
        assert module in sys.modules
