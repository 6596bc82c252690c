"""The Docker (or Podman) engine as the plugin talks to it: its CLI, run as short subprocesses.

The CLI, not a client library: no new dependency, the engine's own argument checks, and `DOCKER_HOST`
(or the plugin's ``docker_host`` setting) honoured exactly as the user's own `docker` honours it.
Long-lived helpers (``docker wait``, ``docker logs -f``) die with the backend (PR_SET_PDEATHSIG),
so a SIGKILLed backend leaves only its containers, which the next start finds by label.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from typing import IO, Any

ENGINE_TIMEOUT_S = 30.0
_PROBE_TTL_S = 10.0


class EngineUnavailable(RuntimeError):
    """No engine answers; the message says which CLI and which host were tried, and the fix."""


class DockerEngine:
    """One engine: a CLI (`docker`, else `podman`) and the host it talks to."""

    def __init__(self, cli: str | None = None, host: str | None = None) -> None:
        chosen = cli or ("docker" if shutil.which("docker") or not shutil.which("podman") else "podman")
        self.cli = chosen
        self.host = host or os.environ.get("DOCKER_HOST", "")
        self._probe: tuple[float, str | None, str] | None = None  # (when, version or None, why not)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The CLI's environment: ours with DOCKER_HOST, plus ``extra`` (values `-e NAME` passes on)."""
        env = dict(os.environ)
        if self.host:
            env["DOCKER_HOST"] = self.host
        env.update(extra or {})
        return env

    def where(self) -> str:
        return f"`{self.cli}` at {self.host or 'its default socket'}"

    # -- is it there? -----------------------------------------------------------------------------

    def probe(self, timeout: float = 5.0) -> tuple[str | None, str]:
        """(engine version, "") when one answers, else (None, why): asked at most every few seconds,
        so a check before every run costs nothing."""
        now = time.monotonic()
        if self._probe is not None and now - self._probe[0] < _PROBE_TTL_S:
            return self._probe[1], self._probe[2]
        exe = shutil.which(self.cli)
        if exe is None:
            result: tuple[str | None, str] = (None, f"the `{self.cli}` command is not on PATH")
        else:
            try:
                proc = subprocess.run([exe, "version", "--format", "{{.Server.Version}}"], env=self.env(),
                                      capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
                version = proc.stdout.strip()
                if proc.returncode == 0 and version and version != "<no value>":
                    result = (version, "")
                else:
                    lines = (proc.stderr or proc.stdout).strip().splitlines()
                    result = (None, lines[-1] if lines else f"exit {proc.returncode}")
            except subprocess.TimeoutExpired:
                result = (None, f"no answer within {timeout:g}s")
        self._probe = (now, *result)
        return result

    def require(self) -> str:
        version, why = self.probe()
        if version is None:
            raise EngineUnavailable(f"no container engine answers ({self.where()}: {why}); start Docker or Podman, or "
                                    "point DOCKER_HOST (executor_config docker_host) at a running engine")
        return version

    # -- commands ---------------------------------------------------------------------------------

    async def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = ENGINE_TIMEOUT_S,
                  check: bool = True) -> tuple[int, str, str]:
        """Run one CLI command; (exit code, stdout, stderr). With ``check`` a failure raises."""
        proc = await asyncio.create_subprocess_exec(
            *dying_with_us([self.cli, *args]), env=self.env(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            proc.kill()
            await proc.wait()
            raise
        rc = proc.returncode if proc.returncode is not None else -1
        if check and rc != 0:
            raise RuntimeError(f"`{self.cli} {' '.join(args[:2])}` failed ({rc}): {err.decode(errors='replace').strip()}")
        return rc, out.decode(errors="replace"), err.decode(errors="replace")

    async def spawn(self, *args: str, stdout: IO[bytes] | int, stderr: IO[bytes] | int) -> asyncio.subprocess.Process:
        """Start a long-lived CLI helper (``wait``, ``logs -f``) that dies with the backend."""
        return await asyncio.create_subprocess_exec(
            *dying_with_us([self.cli, *args]), env=self.env(), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
        )

    async def inspect(self, name: str) -> dict[str, Any] | None:
        """The container's `docker inspect` object, or None when there is no such container."""
        rc, out, err = await self.run("container", "inspect", name, check=False)
        if rc != 0:
            if "no such" in (err + out).lower():
                return None
            raise RuntimeError(f"`{self.cli} container inspect {name}` failed ({rc}): {err.strip()}")
        found = json.loads(out or "[]")
        return found[0] if found else None

    async def names_with_label(self, *labels: str) -> list[str]:
        """Names of every container (running or not) carrying all ``labels`` (``key=value``)."""
        filters = [arg for label in labels for arg in ("--filter", f"label={label}")]
        _, out, _ = await self.run("ps", "-a", *filters, "--format", "{{.Names}}")
        return [line.strip() for line in out.splitlines() if line.strip()]

    async def remove(self, name: str) -> None:
        await self.run("rm", "-f", name, check=False)


def dying_with_us(argv: list[str], signal_name: str = "KILL") -> list[str]:
    """``argv`` under `setpriv --pdeathsig KILL` (util-linux), so it dies with this process (or is
    sent `signal_name`, e.g. TERM for a server that should shut down cleanly).

    Not a `preexec_fn`: Python code between fork and exec in a process with gRPC's threads can
    crash the child (gRPC skips its fork handlers then). Without setpriv, ``argv`` as it is."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", signal_name, "--", *argv] if setpriv else list(argv)
