"""A local action's secrets are in the environment while it runs and gone after it ends (they used
to stay in the kernel's os.environ, and their files on disk, for every later cell and task to read).
Without a backend a secret's value comes from its own variable, so what a run sets here is a mounted
secret's `<ENV>_FILE` and file; tests/backend/test_secrets.py checks values from a backend."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="local_secrets")
_CERT = flyte.Secret(key="cert", mount="/etc/flyte/secrets")


@env.task(secrets=[_CERT])
def reads() -> dict:
    path = os.environ["CERT_FILE"]
    return {"file": Path(path).read_text(), "path": path}


@env.task(secrets=[_CERT])
def fails() -> int:
    assert Path(os.environ["CERT_FILE"]).read_text() == "pem"
    raise ValueError("after reading the cert")


@env.task(secrets=[_CERT])
async def holds(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return Path(os.environ["CERT_FILE"]).read_text()


@env.task
async def overlapping() -> list[str]:
    first = asyncio.ensure_future(holds(0.6))
    await asyncio.sleep(0.2)
    second = await holds(0.1)  # ends while `first` still runs: the file must stay for it
    return [second, await first]


@pytest.fixture(autouse=True)
def cert_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    flyte.init()  # no backend: values come from the environment variables
    monkeypatch.setenv("CERT", "pem")
    monkeypatch.delenv("CERT_FILE", raising=False)


def test_the_environment_is_as_before_once_the_action_ended() -> None:
    seen = flyte.with_runcontext(mode="local").run(reads).outputs()
    assert seen["file"] == "pem"
    assert "CERT_FILE" not in os.environ
    assert not os.path.exists(seen["path"])  # the mounted secret's file is deleted too


def test_a_variable_set_before_gets_its_own_value_back_also_after_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERT_FILE", "/mine/cert.pem")
    with pytest.raises(Exception, match="after reading the cert"):
        flyte.with_runcontext(mode="local").run(fails).outputs()
    assert os.environ["CERT_FILE"] == "/mine/cert.pem"


def test_overlapping_actions_keep_a_shared_variable_until_the_last_one_ends() -> None:
    assert flyte.with_runcontext(mode="local").run(overlapping).outputs() == ["pem", "pem"]
    assert "CERT_FILE" not in os.environ
