"""Remote mode of the SDK: the gRPC client of the backend, the embedded backend's lifecycle, the
remote controller with its informer, and the RemoteRun object.

Nothing here is imported by `import flyte_jupyter`; grpc is loaded only when remote mode is used.
Public entry points:

- `flyte_jupyter._remote._client.BackendClient`: async client (runs, watch, logs, cache, limits).
- `flyte_jupyter._remote._embedded`: `ensure_backend()`, `start_backend()`, `stop_backend()`,
  `backend_status()` for the embedded backend process and its `DIR/client.yaml`.
- `flyte_jupyter._remote._submit.submit_remote(...)` -> `RemoteRun`.
"""


async def submit_run(options, task, args, kwargs):  # type: ignore[no-untyped-def]
    """Called by `RunOptions.run_aio` / `flyte.run` in remote mode; see `_submit.submit_run`."""
    from ._submit import submit_run as _submit_run

    return await _submit_run(options, task, args, kwargs)
