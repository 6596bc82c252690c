"""What every action needs at run time, on both sides of the wire: the entrypoint, code bundles,
storage helpers, deterministic names, background loops and process facts. The backend imports only
this package and `wire` from the SDK."""
