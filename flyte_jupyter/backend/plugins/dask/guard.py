"""`python -m flyte_jupyter.backend.plugins.dask.guard PARENT -- CMD...`: ask to be SIGKILLed when
the backend (PARENT) ends, then exec CMD. The death signal survives exec, so a Dask scheduler or
worker never outlives the backend, even one that was SIGKILLed (no preexec_fn in a threaded
backend: this small process sets it for itself)."""

from __future__ import annotations

import os
import sys

from flyte_jupyter.backend.plugins.local.procfs import die_with_parent


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        raise SystemExit("usage: python -m flyte_jupyter.backend.plugins.dask.guard PARENT_PID -- CMD [ARGS...]")
    die_with_parent(int(argv[0]))
    os.execv(argv[2], argv[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
