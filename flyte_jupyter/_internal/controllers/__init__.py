"""Controllers turn the task calls made inside a run into actions. One protocol (`base.Controller`),
one factory (`create_controller`): "local" runs children in this process (`local.py`), "remote"
enqueues them on the backend and follows them through informers (`remote/`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, overload

from flyte_jupyter._internal.controllers.base import Controller

if TYPE_CHECKING:
    from flyte_jupyter._internal.controllers.local import LocalController
    from flyte_jupyter._internal.controllers.remote.lazy import LazyRemoteController


@overload
def create_controller(kind: Literal["local"], **kwargs: Any) -> LocalController: ...
@overload
def create_controller(kind: Literal["remote"], **kwargs: Any) -> LazyRemoteController: ...
def create_controller(kind: Literal["local", "remote"], **kwargs: Any) -> Controller:
    """The controller for a run's actions; modules load only for the kind asked for (a leaf action
    on the backend never imports the local controller, a local run never imports grpc)."""
    if kind == "local":
        from flyte_jupyter._internal.controllers.local import LocalController

        return LocalController(**kwargs)
    if kind == "remote":
        from flyte_jupyter._internal.controllers.remote.lazy import LazyRemoteController

        return LazyRemoteController(**kwargs)
    raise ValueError(f"controller kind {kind!r} is unknown; use 'local' or 'remote'")


__all__ = ["Controller", "create_controller"]
