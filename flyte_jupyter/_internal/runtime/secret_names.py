"""Secret names and where an action finds a secret: one rule for the SDK, the CLI and the backend.

A task's `flyte.Secret(key, group=None, mount=None, as_env_var=None)` names the stored secret
``key`` (``group.key`` with a group). The action gets the value in the env var `env_var_for` names
(``as_env_var``, else the name upper-cased with every other character as ``_``); with ``mount`` it
gets a file instead, and ``$<ENV>_FILE`` holds the file's path (both with both).
"""

from __future__ import annotations

import re
from typing import Any, Iterable

MAX_NAME = 253  # a Kubernetes Secret name's cap
MAX_VALUE = 256 * 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_secret_name(name: str) -> str:
    """`name`, or ValueError saying what is wrong and what a name may be."""
    if not isinstance(name, str) or not name:
        raise ValueError("a secret needs a name")
    if len(name) > MAX_NAME:
        raise ValueError(f"secret name {name[:40]!r}... is {len(name)} characters, more than {MAX_NAME}")
    if not _NAME.fullmatch(name):
        raise ValueError(f"secret name {name[:80]!r} is not valid: use letters, digits, '.', '_' and '-', starting "
                         "with a letter or digit (no spaces or control characters)")
    return name


def check_env_name(name: str) -> str:
    if len(name) > MAX_NAME or not _ENV.fullmatch(name):
        raise ValueError(f"{name[:80]!r} is not a valid environment variable name for a secret: use letters, "
                         "digits and '_', not starting with a digit")
    return name


def stored_name(key: str, group: str | None = None) -> str:
    return check_secret_name(f"{group}.{key}" if group else key)


def env_var_for(key: str, group: str | None = None, as_env_var: str | None = None) -> str:
    if as_env_var:
        return check_env_name(as_env_var)
    name = f"{group}_{key}" if group else key
    return re.sub(r"[^A-Za-z0-9_]", "_", name).upper()


def secret_list(secrets: Any) -> list[Any]:
    """A task's `secrets=` (a Secret, a name, or a list of both) as a list of Secret-like objects
    with ``key``, ``group``, ``mount``, ``as_env_var``."""
    from types import SimpleNamespace

    if secrets is None:
        return []
    items: Iterable[Any] = secrets if isinstance(secrets, (list, tuple)) else [secrets]
    out = []
    for item in items:
        if isinstance(item, str):
            item = SimpleNamespace(key=item, group=None, mount=None, as_env_var=None)
        elif not hasattr(item, "key"):
            raise TypeError(f"secrets= takes flyte.Secret objects or names, not {type(item).__name__}")
        out.append(item)
    return out
