"""`flyte.extras`: tasks that are not Python functions (`ContainerTask`)."""

from __future__ import annotations

from flyte_jupyter.extras._container import ContainerTask

__all__ = ["ContainerTask"]
