"""A real S3 API server for tests: moto's server mode on a free loopback port, as a subprocess.

    with S3Server() as s3:
        s3.create_bucket("flyte")
        s3.options   # {"endpoint_url": ..., "key": ..., "secret": ...}: s3fs's options for it

It is our child, stopped by PID (SIGTERM, SIGKILL after 10 s), and asks the kernel to SIGKILL it
when the test process ends, so a pytest killed with SIGKILL leaves no server behind.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from _backend_fixture import free_port
from _server_process import ServerProcess, dying_with_this_process


class S3Server(ServerProcess):
    log_name = "moto.log"
    stop_signal = signal.SIGTERM
    stop_grace = 10.0

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="flyte-s3-"))
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def options(self) -> dict[str, Any]:
        return {"endpoint_url": self.endpoint, "key": "testing", "secret": "testing"}

    def start(self, timeout: float = 60.0) -> "S3Server":
        log = open(self.dir / "moto.log", "wb")
        cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.proc = subprocess.Popen(dying_with_this_process(cmd),
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"moto server did not answer within {timeout} s:\n{self.log_text()[-3000:]}")

    def filesystem(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(**self.options, skip_instance_cache=True)

    def create_bucket(self, name: str) -> str:
        self.filesystem().mkdir(name)
        return name
