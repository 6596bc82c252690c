"""`flyte-jupyter`: run tasks from files, deploy them, and manage the backend, runs, cache and images.

One module per command group, each adding its commands with `add_commands(subparsers)`; a command
sets `handler`, which takes the parsed namespace and returns the exit code.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from flyte_jupyter.cli import admin, backend, deploy, image, rerun, run, runs, secrets, tasks, triggers

_GROUPS = (run, rerun, backend, runs, admin, image, deploy, tasks, secrets, triggers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flyte-jupyter", description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for group in _GROUPS:
        group.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return int(handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
