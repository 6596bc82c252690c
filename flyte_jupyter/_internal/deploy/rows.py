"""A registered task version as plain JSON data: what `flyte-jupyter tasks list --json` prints and
the panel's Tasks view reads (`GET /flyte/api/tasks`), one shape for both."""

from __future__ import annotations

from typing import Any

_RESOURCES = ("cpu", "memory", "gpu", "disk")


def task_row(t: Any) -> dict[str, Any]:
    """One `RegisteredTask` (task_service.proto) as a dict: its id, when and by whom it was
    registered, its typed inputs (name, type, default as JSON text), output, resources, retries,
    image and docs."""
    spec = t.entry.spec
    return {
        "name": t.id.name, "version": t.id.version, "project": t.id.project, "domain": t.id.domain,
        "created_at": t.created_at, "created_by": t.created_by, "environment": spec.environment,
        "type": spec.type or "python", "digest": t.digest,
        "inputs": [{"name": i.name, "type": i.type, "has_default": i.has_default, "default": i.default_json or None}
                   for i in t.entry.inputs],
        "output": t.entry.output_type or None,
        "resources": {k: getattr(spec.resources, k) for k in _RESOURCES if getattr(spec.resources, k)},
        "retries": spec.retries.count,
        "image": spec.image or None,
        "docs": t.entry.docs,
    }


__all__ = ["task_row"]
