"""Internals of the SDK: nothing here is public API, and nothing here imports the backend,
the kernel layer or the server extension."""
