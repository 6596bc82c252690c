"""`flyte-jupyter secrets create|list|delete`: secrets the backend keeps encrypted for tasks.

    flyte-jupyter secrets create NAME [--value V | --from-file F] [--project P --domain D] [--overwrite]
    flyte-jupyter secrets list [--project P --domain D] [--json]
    flyte-jupyter secrets delete NAME [--project P --domain D]

Without `--value` or `--from-file`, `create` reads the value from stdin (a terminal asks for it
without echoing it; a pipe is read to its end, one trailing newline dropped). `--value` puts the
value in your shell's history and the process list: prefer stdin or a file. `list` shows names
only; no command ever prints a value.
"""

from __future__ import annotations

import argparse
import json
import sys

from flyte_jupyter.cli._common import add_backend_flags, call, client_of, when


def _value(args: argparse.Namespace) -> bytes:
    from flyte_jupyter._internal.runtime.secret_names import MAX_VALUE

    if args.value is not None and args.from_file:
        raise SystemExit("error: give the value with --value or --from-file, not both")
    if args.value is not None:
        value = args.value.encode()
    elif args.from_file:
        try:
            with open(args.from_file, "rb") as fh:
                value = fh.read(MAX_VALUE + 1)
        except OSError as exc:
            raise SystemExit(f"error: cannot read {args.from_file}: {exc.strerror}") from None
    elif sys.stdin.isatty():
        import getpass

        value = getpass.getpass(f"value of secret {args.name} (not shown): ").encode()
    else:
        value = sys.stdin.buffer.read(MAX_VALUE + 2)
        value = value[:-1] if value.endswith(b"\n") else value
    if not value:
        raise SystemExit(f"error: secret {args.name} got an empty value; give it one (stdin, --from-file or --value)")
    if len(value) > MAX_VALUE:
        raise SystemExit(f"error: the value is more than {MAX_VALUE} bytes; secrets are for keys and tokens, not data")
    return value


def _check_name(name: str) -> str:
    from flyte_jupyter._internal.runtime.secret_names import check_secret_name

    try:
        return check_secret_name(name)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None


def _cmd_create(args: argparse.Namespace) -> int:
    from flyte_jupyter._internal.client import platform

    name = _check_name(args.name)
    value = _value(args)  # checked whole before the first call
    client = client_of(args)
    info = call(lambda: platform.create_secret(client, name, value, project=args.project, domain=args.domain,
                                               overwrite=args.overwrite))
    print(f"secret {info.id.name} stored in {info.id.project}/{info.id.domain}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from flyte_jupyter._internal.client import platform

    client = client_of(args)
    found = call(lambda: platform.list_secrets(client, project=args.project, domain=args.domain))
    if args.json:
        print(json.dumps([{"name": s.id.name, "project": s.id.project, "domain": s.id.domain,
                           "created_at": s.created_at, "updated_at": s.updated_at} for s in found], indent=2))
        return 0
    project, domain = args.project or client.project, args.domain or client.domain
    if not found:
        print(f"no secrets in {project}/{domain}; `flyte-jupyter secrets create NAME` stores one")
        return 0
    width = max(len("NAME"), *(len(s.id.name) for s in found))
    print(f"secrets in {project}/{domain}:")
    print(f"{'NAME'.ljust(width)}  UPDATED")
    for s in found:
        print(f"{s.id.name.ljust(width)}  {when(s.updated_at)}")
    return 0


def _cmd_delete(args: argparse.Namespace) -> int:
    from flyte_jupyter._internal.client import platform

    name = _check_name(args.name)
    client = client_of(args)
    call(lambda: platform.delete_secret(client, name, project=args.project, domain=args.domain))
    print(f"secret {name} deleted")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Install `secrets create`, `secrets list` and `secrets delete`."""
    group = sub.add_parser("secrets", help="secrets tasks read (stored encrypted by the backend)")
    gsub = group.add_subparsers(dest="secrets_command", required=True)

    create = gsub.add_parser("create", help="store a secret (value from stdin, --from-file or --value)",
                             allow_abbrev=False)
    create.add_argument("name", metavar="NAME")
    source = create.add_mutually_exclusive_group()
    source.add_argument("--value", help="the value (ends up in shell history: prefer stdin or --from-file)")
    source.add_argument("--from-file", metavar="F", help="read the value from this file")
    create.add_argument("--overwrite", action="store_true", help="replace a secret of that name")
    create.add_argument("--project")
    create.add_argument("--domain")
    add_backend_flags(create)
    create.set_defaults(handler=_cmd_create)

    ls = gsub.add_parser("list", help="secret names (never values)", allow_abbrev=False)
    ls.add_argument("--project")
    ls.add_argument("--domain")
    ls.add_argument("--json", action="store_true")
    add_backend_flags(ls)
    ls.set_defaults(handler=_cmd_list)

    delete = gsub.add_parser("delete", help="delete a secret", allow_abbrev=False)
    delete.add_argument("name", metavar="NAME")
    delete.add_argument("--project")
    delete.add_argument("--domain")
    add_backend_flags(delete)
    delete.set_defaults(handler=_cmd_delete)


__all__ = ["add_commands"]
