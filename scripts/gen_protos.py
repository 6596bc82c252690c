#!/usr/bin/env python
"""Regenerate the Python code for every ``flyte_jupyter/_internal/wire/proto/*.proto``.

The generated modules are committed (so installing the package needs no protoc), and
``tests/sdk/test_protos_fresh.py`` fails when they drift from the ``.proto`` sources. Run from
anywhere:

    python scripts/gen_protos.py            # rewrite the committed files in place
    python scripts/gen_protos.py --out DIR  # write into DIR instead (used by the freshness test)

protoc runs with the repository root as include path, so generated imports read
``from flyte_jupyter._internal.wire.proto import literals_pb2`` and a proto imports another one as
``import "flyte_jupyter/_internal/wire/proto/literals.proto";``. ``*_pb2_grpc.py`` is written only for protos
that declare a service.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROTO_DIR = "flyte_jupyter/_internal/wire/proto"
_SERVICE = re.compile(r"^\s*service\s+\w+\s*\{", re.MULTILINE)


def proto_files(repo: Path = REPO) -> list[str]:
    """The ``.proto`` sources, as paths relative to the repository root."""
    return sorted(p.relative_to(repo).as_posix() for p in (repo / PROTO_DIR).glob("*.proto"))


def declares_service(proto_path: Path) -> bool:
    """Whether a proto has a service block, i.e. needs gRPC stubs."""
    text = re.sub(r"//[^\n]*", "", proto_path.read_text())
    return bool(_SERVICE.search(text))


def generated_names(proto_rel: str, repo: Path = REPO) -> list[str]:
    """The generated files (relative to the output root) for one proto."""
    stem = proto_rel[: -len(".proto")]
    names = [f"{stem}_pb2.py", f"{stem}_pb2.pyi"]
    if declares_service(repo / proto_rel):
        names.append(f"{stem}_pb2_grpc.py")
    return names


def generate(out: Path, repo: Path = REPO) -> list[str]:
    """Run protoc for each proto into ``out``; returns the generated files (relative paths)."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for rel in proto_files(repo):
        cmd = [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            ".",
            f"--python_out={out}",
            f"--pyi_out={out}",
        ]
        if declares_service(repo / rel):
            cmd.append(f"--grpc_python_out={out}")
        cmd.append(rel)
        proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"protoc failed for {rel}:\n{proc.stderr}")
        written.extend(generated_names(rel, repo))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO, help="output root (default: the repository)")
    args = parser.parse_args(argv)
    for name in generate(args.out.resolve()):
        print(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
