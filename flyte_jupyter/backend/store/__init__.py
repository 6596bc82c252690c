"""Persistence of the backend: the `Store` interface with its records, and its SQLite
implementation (room for PostgreSQL beside it)."""
