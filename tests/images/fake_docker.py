"""A stand-in `docker` CLI with buildx, which the real engine on these machines lacks.

The real engine (tests/images/docker_engine.py) covers `docker build`, push and pull; only the
`docker buildx build` path is left to this fake. It keeps state in `$FAKE_DOCKER_STATE` (JSON):
`docker info --format ...` answers a server version; `docker buildx version` answers; `docker
buildx build ... CONTEXT` checks what a real build would need (the Dockerfile exists, every COPY
source is inside the context, a tag is given, --push has a registry in the tag), records the image
as pushed or loaded and writes `--metadata-file` with a digest; `docker image inspect REF` knows the
loaded images. Anything else fails the way an unknown command does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from pathlib import Path

_VALUED = ("-t", "-f", "--platform", "--metadata-file", "--network", "--label")


def _state_path() -> Path:
    return Path(os.environ["FAKE_DOCKER_STATE"])


def _load() -> dict:
    try:
        return json.loads(_state_path().read_text())
    except FileNotFoundError:
        return {"pushed": [], "loaded": [], "builds": []}


def _save(state: dict) -> None:
    tmp = _state_path().with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, _state_path())


def _build(args: list) -> int:
    opts: dict = {"push": False, "load": False}
    rest = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in _VALUED:
            opts[a] = args[i + 1]
            i += 2
            continue
        if a in ("--push", "--load"):
            opts[a[2:]] = True
        else:
            rest.append(a)
        i += 1
    if len(rest) != 1 or "-t" not in opts or opts["push"] == opts["load"]:
        print(f"fake docker: bad buildx arguments {args}", file=sys.stderr)
        return 2
    context = Path(rest[0])
    dockerfile = Path(opts.get("-f", context / "Dockerfile"))
    if not dockerfile.is_file():
        print(f"ERROR: failed to read dockerfile: open {dockerfile}: no such file or directory", file=sys.stderr)
        return 1
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY "):
            src = shlex.split(line)[1]
            if not (context / src).exists():
                print(f'ERROR: failed to compute cache key: "/{src}": not found', file=sys.stderr)
                return 1
    tag = opts["-t"]
    if opts["push"] and "/" not in tag.rsplit(":", 1)[0]:
        print(f"ERROR: push access denied for {tag}: no registry in the name", file=sys.stderr)
        return 1
    digest = "sha256:" + hashlib.sha256(dockerfile.read_bytes() + tag.encode()).hexdigest()
    if "--metadata-file" in opts:
        Path(opts["--metadata-file"]).write_text(json.dumps({"containerimage.digest": digest}))
    state = _load()
    state["pushed" if opts["push"] else "loaded"].append(tag)
    state["builds"].append({
        "tag": tag, "platform": opts.get("--platform"), "network": opts.get("--network"),
        "label": opts.get("--label"), "dockerfile": dockerfile.read_text(), "digest": digest,
    })
    _save(state)
    print(f"#1 naming to {tag} done")
    return 0


def main(argv: list) -> int:
    if argv[:1] == ["info"]:
        print("28.2.2-fake")
        return 0
    if argv[:2] == ["buildx", "version"]:
        print("github.com/docker/buildx v0.24.0-fake")
        return 0
    if argv[:2] == ["buildx", "build"]:
        return _build(argv[2:])
    if argv[:2] == ["image", "inspect"]:
        if argv[-1] in _load()["loaded"]:
            print("sha256:" + "0" * 64)
            return 0
        print(f"Error response from daemon: No such image: {argv[-1]}", file=sys.stderr)
        return 1
    print(f"fake docker: unknown command {argv}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
