"""What the backend-facing commands share: finding the backend (through the one resolver), calling
it with errors as one clear line, and how times print."""

from __future__ import annotations

import argparse
import asyncio
import datetime
from typing import Any, Callable, Coroutine, TypeVar

T = TypeVar("T")


def client_of(args: argparse.Namespace) -> Any:
    """The backend a command talks to: `--config FILE`, then $FLYTE_JUPYTER_CONFIG, then the
    embedded backend of `--data-dir` if it runs (a command that only looks never starts one)."""
    from flyte_jupyter import _config
    from flyte_jupyter._internal.client.resolve import resolve_client
    from flyte_jupyter.errors import NoBackendError

    try:
        return resolve_client(config_file=getattr(args, "config", None), cfg=_config.ClientConfig(),
                              data_dir=getattr(args, "data_dir", None), start=False)
    except NoBackendError as exc:
        raise SystemExit(f"error: {exc}") from None


def call(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one client call; a backend error ends the command with its message."""
    from flyte_jupyter.errors import BackendError

    try:
        return asyncio.run(make())
    except BackendError as exc:
        raise SystemExit(f"error ({exc.code}): {exc.message}") from None


def when(ts: float | None) -> str:
    if not ts:
        return "-"
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def add_backend_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="the backend's client.yaml (default: $FLYTE_JUPYTER_CONFIG or the embedded one)")
    p.add_argument("--data-dir", help="the embedded backend's data dir (default: the user's data dir)")
