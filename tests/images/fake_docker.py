"""A stand-in `docker` CLI for machines without a Docker engine (like CI's).

It speaks the two commands the Docker builder uses and keeps state in `$FAKE_DOCKER_STATE` (JSON):
`docker info --format ...` answers a server version; `docker buildx build ... CONTEXT` checks what a
real build would need (the Dockerfile exists, every COPY source is inside the context, a tag is
given, --push has a registry in the tag) and records the image as pushed or loaded. Anything else
fails the way an unknown command does.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path


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
        if a in ("-t", "-f", "--platform"):
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
    state = _load()
    state["pushed" if opts["push"] else "loaded"].append(tag)
    state["builds"].append({"tag": tag, "platform": opts.get("--platform"), "dockerfile": dockerfile.read_text()})
    _save(state)
    print(f"#1 naming to {tag} done")
    return 0


def main(argv: list) -> int:
    if argv[:1] == ["info"]:
        print("28.2.2-fake")
        return 0
    if argv[:2] == ["buildx", "build"]:
        return _build(argv[2:])
    print(f"fake docker: unknown command {argv}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
