"""Tasks that read secrets (issue 19): one by env var, one as a file, one that declares none, one
whose secret does not exist."""

import hashlib
import os
import stat
from pathlib import Path

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="secret_tasks")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@env.task(secrets=[flyte.Secret(key="openai", as_env_var="OPENAI_API_KEY"),
                   flyte.Secret(key="tls.cert", mount="/etc/flyte/secrets")])
def reader() -> dict:
    path = os.environ["TLS_CERT_FILE"]
    mode = stat.S_IMODE(os.stat(path).st_mode)
    print("reader ran; the key is", len(os.environ["OPENAI_API_KEY"]), "characters")  # never the value
    return {"env": _digest(os.environ["OPENAI_API_KEY"]), "file": _digest(Path(path).read_text()),
            "mode": oct(mode), "path": path}


@env.task
def undeclared() -> dict:
    return {"sees_env": "OPENAI_API_KEY" in os.environ,
            "sees_file": any(k.endswith("_FILE") and "TLS" in k for k in os.environ)}


@env.task
def asks_backend() -> str:
    """What the run's own credential gets from the secret service: it may list or read nothing."""
    import asyncio

    from flyte_jupyter._internal.client import platform
    from flyte_jupyter._internal.client.grpc_client import BackendClient
    from flyte_jupyter.errors import BackendError

    client = BackendClient(os.environ["FLYTE_JUPYTER_ENDPOINT"], os.environ["FLYTE_JUPYTER_TOKEN"],
                           project=os.environ["FLYTE_JUPYTER_PROJECT"], domain=os.environ["FLYTE_JUPYTER_DOMAIN"])
    codes = []
    for call in (lambda: platform.resolve_secrets(client, ["openai"]), lambda: platform.list_secrets(client)):
        try:
            asyncio.run(call())
            codes.append("OK")
        except BackendError as exc:
            codes.append(exc.code)
    return ",".join(codes)


@env.task
def main() -> dict:
    seen = reader()
    return {"reader": seen, "undeclared": undeclared(), "credential": asks_backend(),
            "main_sees_env": "OPENAI_API_KEY" in os.environ}


@env.task(secrets=["does-not-exist"])
def needs_missing(marker: str) -> int:
    Path(marker).write_text("user code ran")
    return 1


@env.task(secrets=[flyte.Secret(key="tls.cert", mount="/etc/flyte/secrets")])
def slow_reader(seconds: float) -> str:
    import time

    time.sleep(seconds)
    return Path(os.environ["TLS_CERT_FILE"]).read_text()[:4]
