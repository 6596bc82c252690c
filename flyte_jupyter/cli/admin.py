"""`flyte-jupyter admin limits set|get`: platform resource limits per project and domain;
`admin resource-attributes update|get|delete`: Flyte's task-resource attributes (defaults and
limits) of a project and domain, from the YAML file `flytectl update task-resource-attribute`
reads:

    project: flytesnacks
    domain: staging
    defaults: {cpu: "1", memory: 150Mi}
    limits: {cpu: "2", memory: 450Mi}

The file is read and its shape checked here (YAML, known keys, scalars); the backend checks the
quantities and that no default exceeds its limit, before it stores anything.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from flyte_jupyter.cli._common import add_backend_flags, call, client_of


def _limits_set(args: argparse.Namespace) -> int:
    import yaml

    with open(args.file) as fh:
        raw = yaml.safe_load(fh) or {}
    if not isinstance(raw, dict):
        raise SystemExit(f"{args.file} must be a YAML mapping like `memory: 1Gi` (keys cpu, memory, gpu, disk)")
    raw = raw.get("limits", raw) if isinstance(raw.get("limits"), dict) else raw
    client = client_of(args)
    limits = call(lambda: client.set_limits(args.project, args.domain, **{k: (None if v is None else str(v))
                                                                            for k, v in raw.items()}))
    print(f"limits for {args.project}/{args.domain}: {json.dumps(limits)}")
    return 0


def _limits_get(args: argparse.Namespace) -> int:
    client = client_of(args)
    limits = call(lambda: client.get_limits(args.project, args.domain))
    print(json.dumps(limits))
    return 0


_TOP_KEYS = ("project", "domain", "defaults", "limits")
_RESOURCE_KEYS = ("cpu", "memory", "gpu", "disk")
_FLYTE_NAMES = {"ephemeral_storage": "disk", "ephemeralStorage": "disk"}  # Flyte's name for disk


def _resources_of(path: str, section: str, raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SystemExit(f"error: {path}: `{section}` must be a mapping like `memory: 1Gi` (keys cpu, memory, gpu, "
                         "disk)")
    out: dict[str, str] = {}
    for key, value in raw.items():
        kind = _FLYTE_NAMES.get(key, key) if isinstance(key, str) else key
        if kind not in _RESOURCE_KEYS:
            raise SystemExit(f"error: {path}: unknown resource {key!r} in `{section}`; use cpu, memory, gpu or disk")
        if kind in out:
            raise SystemExit(f"error: {path}: `{section}` names {kind} twice")
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise SystemExit(f"error: {path}: {section}.{key} must be a quantity such as 2, '500m' or '1Gi', not "
                             f"{value!r}")
        out[kind] = str(value)
    return out


def read_attr_file(path: str) -> tuple[str | None, str | None, dict[str, str], dict[str, str]]:
    """(project, domain, defaults, limits) of a task-resource attribute file, its shape checked."""
    import yaml

    try:
        with open(path) as fh:
            raw = yaml.safe_load(fh)
    except OSError as exc:
        raise SystemExit(f"error: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SystemExit(f"error: {path} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(raw, dict):
        raise SystemExit(f"error: {path} must be a YAML mapping with project, domain, defaults and limits")
    unknown = [k for k in raw if k not in _TOP_KEYS]
    if "workflow" in unknown:
        raise SystemExit(f"error: {path}: attributes per workflow are not supported here; drop `workflow` (they "
                         "apply to the whole project and domain)")
    if unknown:
        raise SystemExit(f"error: {path}: unknown key(s) {unknown}; use project, domain, defaults and limits")
    for key in ("project", "domain"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise SystemExit(f"error: {path}: `{key}` must be a name, not {raw[key]!r}")
    return (raw.get("project"), raw.get("domain"), _resources_of(path, "defaults", raw.get("defaults")),
            _resources_of(path, "limits", raw.get("limits")))


def _place(args: argparse.Namespace, project: str | None, domain: str | None) -> tuple[str, str]:
    for what, flag, named in (("project", args.project, project), ("domain", args.domain, domain)):
        if flag and named and flag != named:
            raise SystemExit(f"error: the file names {what} {named!r} but --{what} says {flag!r}; make them agree")
    project, domain = args.project or project, args.domain or domain
    if not project or not domain:
        raise SystemExit("error: name the project and domain, in the file (`project:`, `domain:`) or with --project "
                         "and --domain")
    return project, domain


def _attributes_update(args: argparse.Namespace) -> int:
    project, domain, defaults, limits = read_attr_file(args.attr_file)
    project, domain = _place(args, project, domain)
    client = client_of(args)
    got = call(lambda: client.update_resource_attributes(project, domain, defaults, limits))
    print(f"task-resource attributes of {project}/{domain}: defaults {json.dumps(got['defaults'])}, limits "
          f"{json.dumps(got['limits_in_effect'])}")
    return 0


def _attributes_get(args: argparse.Namespace) -> int:
    client = client_of(args)
    got = call(lambda: client.get_resource_attributes(args.project, args.domain))
    if args.attr_file:
        import yaml

        with open(args.attr_file, "w") as fh:
            yaml.safe_dump({"project": got["project"], "domain": got["domain"], "defaults": got["defaults"],
                            "limits": got["limits"]}, fh, sort_keys=False)
    print(json.dumps(got))
    return 0


def _attributes_delete(args: argparse.Namespace) -> int:
    client = client_of(args)
    existed = call(lambda: client.delete_resource_attributes(args.project, args.domain))
    print(f"task-resource attributes of {args.project}/{args.domain} "
          f"{'deleted' if existed else 'were not set'}; the backend's own limits apply")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Install the `admin` group."""
    admin = sub.add_parser("admin", help="platform settings").add_subparsers(dest="admin_cmd", required=True)
    limits = admin.add_parser("limits", help="platform resource limits per project and domain").add_subparsers(
        dest="limits_cmd", required=True)
    p = limits.add_parser("set", help="set the limits from a YAML file (cpu, memory, gpu, disk)")
    add_backend_flags(p)
    p.add_argument("--project", required=True)
    p.add_argument("--domain", required=True)
    p.add_argument("--file", required=True)
    p.set_defaults(handler=_limits_set)
    p = limits.add_parser("get", help="the limits in effect")
    add_backend_flags(p)
    p.add_argument("--project", default="default")
    p.add_argument("--domain", default="development")
    p.set_defaults(handler=_limits_get)

    attrs = admin.add_parser("resource-attributes", help="task-resource defaults and limits per project and domain "
                             "(Flyte's task-resource-attribute)").add_subparsers(dest="attrs_cmd", required=True)
    p = attrs.add_parser("update", help="replace them from a YAML file (project, domain, defaults, limits)")
    add_backend_flags(p)
    p.add_argument("--attr-file", "--attrFile", dest="attr_file", required=True)
    p.add_argument("--project", help="default: the file's `project`")
    p.add_argument("--domain", help="default: the file's `domain`")
    p.set_defaults(handler=_attributes_update)
    p = attrs.add_parser("get", help="the defaults and limits (JSON; --attr-file: also as a YAML file for update)")
    add_backend_flags(p)
    p.add_argument("--project", help="default: the client's project")
    p.add_argument("--domain", help="default: the client's domain")
    p.add_argument("--attr-file", "--attrFile", dest="attr_file")
    p.set_defaults(handler=_attributes_get)
    p = attrs.add_parser("delete", help="remove them (the backend's own limits apply again)")
    add_backend_flags(p)
    p.add_argument("--project", required=True)
    p.add_argument("--domain", required=True)
    p.set_defaults(handler=_attributes_delete)
