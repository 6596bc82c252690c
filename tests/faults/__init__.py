"""The fault-injection matrix (a package, so its task modules import as `faults.flows.*` beside
tests/backend's `flows`)."""
