"""`flyte.remote`: objects that live on a backend. Today: `RemoteRun`, what `flyte.run` returns in
remote mode (also reachable as `flyte_jupyter.remote.Run`, Flyte 2's name)."""

from flyte_jupyter.remote._run import RemoteRun

Run = RemoteRun

__all__ = ["RemoteRun", "Run"]
