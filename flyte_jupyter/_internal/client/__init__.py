"""Remote mode of the SDK: the gRPC client of the backend, the embedded backend's lifecycle, the
remote controller with its informer, and the RemoteRun object.

Nothing here is imported by `import flyte_jupyter`; grpc is loaded only when remote mode is used.

`_client.BackendClient(endpoint, token, insecure=True, ca_cert=None, project=, domain=)`, or
`BackendClient.from_file("DIR/client.yaml")` / `BackendClient.from_config()` (the SDK's config).
All methods are async; a client may be used from several event loops (one channel per loop):
  create_run(task_spec, inputs=, inputs_hash=, run_name=, overwrite_cache=, env_vars=, labels=) -> RunSummary
  get_run(name) -> (RunSummary, [ActionInfo])      list_runs(limit=50, phase=None) -> [RunSummary]
  abort_run(name, reason)                          get_action(run, action) -> ActionDetail
  watch_run(name, parent=None)  -> async iterator of ActionEvent, with `SYNCED` once after the snapshot
  watch_raw(name, parent="", since_seq=0)  -> WatchBatch(actions, synced, seq); reconnects by itself
  watch_runs() -> async iterator of RunSummary (a root changed)
  tail_logs(run, action="a0", attempt=0, follow=False) -> async iterator of LogLine(stream, text, ts, attempt)
  list_cache(task_name=None) -> [dict]   clear_cache(task_name=None) -> int
  set_limits(project, domain, cpu=, memory=, gpu=, disk=) -> dict   get_limits() -> dict
  status() -> dict (version, executor, max_parallelism, running_actions, queued_actions, data_dir,
           storage_root, pid, endpoint)
Errors are `BackendError(code, message)`, code being the gRPC status name.

`_embedded`: `ensure_backend(data_dir=None) -> Path` (client.yaml of a running backend, started if
needed), `start_backend(data_dir, port=None, host=)`, `stop_backend(data_dir)`,
`backend_status(data_dir) -> BackendInfo(running, pid, endpoint, client_yaml)`.

`_submit`: `submit_run(options, task, args, kwargs) -> RemoteRun` (what `flyte.run` calls in remote
mode), `client_for()` (the shared client: configured backend, else the embedded one),
`call(make_coro)` / `acall(make_coro)` (run on the shared background loop).
"""


async def submit_run(options, task, args, kwargs):  # type: ignore[no-untyped-def]
    """Called by `RunOptions.run_aio` / `flyte.run` in remote mode; see `_submit.submit_run`."""
    from flyte_jupyter._internal.client.submit import submit_run as _submit_run

    return await _submit_run(options, task, args, kwargs)
