"""Kubernetes-safe names and labels for runs, actions and attempts.

Object names must be DNS-1123 labels (lower case alphanumerics and '-', at most 63 characters) and
label values at most 63 characters of [A-Za-z0-9._-]; run and action names are not. Long or unusual
names are shortened with a hash suffix so that two actions never share a name; the exact names are
kept in annotations.
"""

from __future__ import annotations

import hashlib
import re

GROUP = "flyte-jupyter.io"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "flyte-jupyter"
L_INSTANCE = f"{GROUP}/instance"
L_RUN = f"{GROUP}/run"
L_ACTION = f"{GROUP}/action"
L_ATTEMPT = f"{GROUP}/attempt"
L_TASK = f"{GROUP}/task"
L_PROJECT = f"{GROUP}/project"
L_DOMAIN = f"{GROUP}/domain"
L_TASKACTION = f"{GROUP}/taskaction"
A_RUN = f"{GROUP}/run-name"
A_ACTION = f"{GROUP}/action-name"
A_TASK = f"{GROUP}/task-name"

CONTAINER = "primary"  # Flyte's default primary container name


def dns_label(raw: str, max_len: int = 63) -> str:
    """``raw`` as a DNS-1123 label; a hash suffix keeps shortened or rewritten names unique."""
    clean = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-") or "x"
    if clean == raw and len(clean) <= max_len:
        return clean
    digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
    return f"{clean[: max_len - 9].rstrip('-')}-{digest}"


def label_value(raw: str) -> str:
    """``raw`` as a label value (<= 63 chars of [A-Za-z0-9._-], alphanumeric at both ends)."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-._")
    if clean == raw and len(clean) <= 63:
        return clean
    digest = hashlib.sha256(raw.encode()).hexdigest()[:8]
    return f"{clean[:54].strip('-._')}-{digest}".strip("-")


def taskaction_name(run: str, action: str) -> str:
    """The TaskAction of one action: unique per run and action within a namespace."""
    return dns_label(f"{run}-{action}", max_len=56)  # leaves room for "-<attempt>" in pod names


def pod_name(run: str, action: str, attempt: int) -> str:
    """The pod of one attempt; deterministic, so a repeated create finds the existing pod (409)."""
    return f"{taskaction_name(run, action)}-{attempt}"


def namespace_for(template: str, project: str, domain: str) -> str:
    """The action namespace, e.g. "{project}-{domain}" -> "flytesnacks-development"."""
    try:
        raw = template.format(project=project, domain=domain)
    except (KeyError, IndexError) as e:
        raise ValueError(
            f"namespace_template {template!r} may only use {{project}} and {{domain}} ({e})"
        ) from None
    return dns_label(raw)


def selector(instance: str) -> str:
    """The label selector of everything this executor instance manages."""
    return f"{MANAGED_BY}={MANAGER},{L_INSTANCE}={label_value(instance)}"
