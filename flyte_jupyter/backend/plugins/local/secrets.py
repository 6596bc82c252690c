"""An attempt's secrets as a local process gets them: env vars of that process only, and mounted
secrets as files of mode 0600 in a 0700 folder of the attempt's workdir (`SECRETS_DIR`), removed
when the attempt ends. Values never go into a fork server's template environment (templates are
shared by the actions of a bundle), only into the attempt's own process."""

from __future__ import annotations

import os
import shutil

from flyte_jupyter.backend.executor.plugin import LaunchSpec

SECRETS_DIR = ".flyte-secrets"


def secret_env(spec: LaunchSpec) -> dict[str, str]:
    """The env vars an attempt's process gets for its secrets; mounted ones are written here."""
    env: dict[str, str] = {}
    folder = os.path.join(spec.workdir, SECRETS_DIR)
    for secret in spec.secrets:
        if secret.mount:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            path = os.path.join(folder, secret.name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(secret.value)
            env[f"{secret.env_var}_FILE"] = path
        else:
            env[secret.env_var] = secret.value.decode("utf-8", "surrogateescape")
    return env


def remove_files(spec: LaunchSpec) -> None:
    """Remove an attempt's secret files (it has ended)."""
    shutil.rmtree(os.path.join(spec.workdir, SECRETS_DIR), ignore_errors=True)


def remove_stale(work_root: str, live_workdirs: set[str]) -> None:
    """After a restart: remove the secret files of every attempt that is not running any more
    (one that ended while the backend was down kept them)."""
    import glob

    for folder in glob.glob(os.path.join(glob.escape(work_root), "*", "*", "*", "*", SECRETS_DIR)):
        if os.path.dirname(folder) not in live_workdirs:
            shutil.rmtree(folder, ignore_errors=True)
