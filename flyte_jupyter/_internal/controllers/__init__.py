"""Controllers turn task calls inside a run into actions: local (in this process) or remote (the backend)."""
