"""The SDK's side of the backend: the gRPC client, the embedded backend's lifecycle, the one
resolver that says which backend a caller talks to, and run submission.

Nothing here is imported by `import flyte_jupyter`; grpc is loaded only when remote mode is used.

- `grpc_client.BackendClient`: async client of one backend (every RPC; errors are `BackendError`).
- `embedded`: start, stop and find the embedded backend of a data directory.
- `resolve.resolve_client()`: which backend (config file, endpoint, $FLYTE_JUPYTER_CONFIG, embedded).
- `calls`: the loop that owns every backend call of the process (`call` / `acall`).
- `submit`: `submit_run(options, task, args, kwargs) -> RemoteRun`.
"""
