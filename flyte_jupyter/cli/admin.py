"""`flyte-jupyter admin limits set|get`: platform resource limits per project and domain."""

from __future__ import annotations

import argparse
import json

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
