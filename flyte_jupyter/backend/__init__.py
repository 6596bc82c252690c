"""The flyte-jupyter backend: run, queue and state services, the executor and its plugins.

Runs as its own process (`flyte-jupyter backend start`). The SDK never imports this package; it talks
to it only through the generated gRPC stubs in `flyte_jupyter._internal.wire.proto`.
"""
