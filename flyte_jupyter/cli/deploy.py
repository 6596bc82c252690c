"""`flyte-jupyter deploy`, `package` and `register`: versioned tasks in projects and domains.

    flyte-jupyter deploy FILE [ENV ...] --project P --domain D --version V     # one step (Flyte 2)
    flyte-jupyter package FILE [ENV ...] -o X.tgz                             # two steps (Flyte 1):
    flyte-jupyter register X.tgz --project P --domain D --version V

FILE is a Python file or a package directory; it is imported as the module(s) it is, and every
TaskEnvironment it defines (only those named, with ENV) is deployed with the environments it
depends on: one code bundle, the images (built when missing), every task's spec and typed
interface, registered in one request that the backend stores whole or not at all. Without
`--version` the version is a digest of the code and the images. A version is immutable: the same
code again changes nothing, other code is refused and nothing is stored. `register` checks the
whole archive before anything is uploaded or registered. Without `--config` they use the embedded
backend, starting it when needed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from flyte_jupyter.cli._common import add_backend_flags, when


def _client(args: argparse.Namespace) -> Any:
    from flyte_jupyter import _config
    from flyte_jupyter._internal.client.resolve import resolve_client
    from flyte_jupyter.errors import NoBackendError

    try:
        return resolve_client(config_file=args.config, cfg=_config.ClientConfig(), data_dir=args.data_dir, start=True)
    except NoBackendError as exc:
        raise SystemExit(f"error: {exc}") from None


def _fail(exc: BaseException) -> int:
    print(f"error: {getattr(exc, 'message', None) or exc}", file=sys.stderr)
    return 1


def _print_registered(rows: list[tuple[str, str, str, bool, float, str]], project: str, domain: str) -> None:
    made = sum(1 for r in rows if r[3])
    version = rows[0][1] if rows else ""
    print(f"{len(rows)} task(s) at version {version} in {project}/{domain}: {made} registered, "
          f"{len(rows) - made} unchanged")
    width = max((len(r[0]) for r in rows), default=4)
    for name, ver, _env, created, created_at, created_by in rows:
        state = "registered" if created else "unchanged (this version has this code already)"
        print(f"  {name:<{width}}  {ver}  {state}  {when(created_at)} by {created_by}")


def _environments(args: argparse.Namespace) -> list[Any]:
    from flyte_jupyter._internal.deploy.package import environments, environments_in, load_path

    return environments(environments_in(load_path(args.file), args.envs))


def _cmd_deploy(args: argparse.Namespace) -> int:
    from flyte_jupyter._deploy import deploy_environments
    from flyte_jupyter.errors import DeploymentError, ImageBuildError, UnsafeBundleError

    try:
        envs = _environments(args)
        if args.dry_run:
            from flyte_jupyter._internal.deploy.package import build_package

            package = build_package(envs)
            print(f"would deploy {len(package.task_names)} task(s) at version "
                  f"{args.version or package.message.default_version}: {', '.join(package.task_names)}")
            return 0
        client = _client(args)
        project, domain = args.project or client.project, args.domain or client.domain
        deployments = asyncio.run(deploy_environments(envs, client=client, project=project, domain=domain,
                                                      version=args.version))
    except (DeploymentError, UnsafeBundleError, ImageBuildError, TypeError) as exc:
        return _fail(exc)
    rows = [(t.name, t.version or "", t.environment, t.created, t.created_at, t.created_by)
            for d in deployments for t in d.tasks]
    _print_registered(rows, project, domain)
    return 0


def _cmd_package(args: argparse.Namespace) -> int:
    from flyte_jupyter._internal.deploy.archive import write_archive
    from flyte_jupyter._internal.deploy.package import build_package
    from flyte_jupyter.errors import DeploymentError, ImageBuildError

    try:
        package = build_package(_environments(args))
        out = write_archive(package, args.output)
    except (DeploymentError, ImageBuildError, TypeError, OSError) as exc:
        return _fail(exc)
    m = package.message
    print(f"wrote {out}: {len(m.tasks)} task(s) ({', '.join(package.task_names)}), {m.bundle_kind} bundle "
          f"{m.bundle_digest[:12]}, default version {m.default_version}")
    print(f"register it with: flyte-jupyter register {out} --project P --domain D --version V")
    return 0


def _cmd_register(args: argparse.Namespace) -> int:
    from flyte_jupyter._internal.deploy.archive import read_archive
    from flyte_jupyter._internal.deploy.register import register_package
    from flyte_jupyter.errors import BackendError, DeploymentError, UnsafeBundleError

    try:
        package = read_archive(args.archive)  # checked whole before anything is uploaded or registered
        client = _client(args)
        project, domain = args.project or client.project, args.domain or client.domain
        done = asyncio.run(register_package(client, package, project=project, domain=domain, version=args.version))
    except BackendError as exc:
        print(f"error ({exc.code}): {exc.message}", file=sys.stderr)
        return 1
    except (DeploymentError, UnsafeBundleError) as exc:
        return _fail(exc)
    _print_registered([(d.name, d.version, d.environment, d.created, d.created_at, d.created_by) for d in done],
                      project, domain)
    return 0


def _place_flags(p: argparse.ArgumentParser, *, version: bool = True) -> None:
    p.add_argument("--project", help="the project (default: the backend config's, else 'default')")
    p.add_argument("--domain", help="the domain (default: the backend config's, else 'development')")
    if version:
        p.add_argument("--version", help="the version to register (default: a digest of the code and the images)")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Install `deploy`, `package` and `register`."""
    d = sub.add_parser("deploy", help="register the tasks of a file or package on the backend (one step)",
                       allow_abbrev=False, description="flyte-jupyter deploy FILE [ENV ...] --project P --domain D "
                                                       "--version V")
    d.add_argument("file", help="a Python file, or a package directory")
    d.add_argument("envs", nargs="*", metavar="ENV", help="only these environments (default: every one FILE defines)")
    _place_flags(d)
    d.add_argument("--dry-run", action="store_true", help="build the package, register nothing")
    add_backend_flags(d)
    d.set_defaults(handler=_cmd_deploy)

    p = sub.add_parser("package", help="write the tasks of a file or package to an archive, for `register`",
                       allow_abbrev=False, description="flyte-jupyter package FILE [ENV ...] -o X.tgz")
    p.add_argument("file", help="a Python file, or a package directory")
    p.add_argument("envs", nargs="*", metavar="ENV", help="only these environments (default: every one FILE defines)")
    p.add_argument("-o", "--output", required=True, help="the archive to write (a .tgz)")
    p.set_defaults(handler=_cmd_package)

    r = sub.add_parser("register", help="register the tasks of an archive `package` wrote", allow_abbrev=False,
                       description="flyte-jupyter register X.tgz --project P --domain D --version V")
    r.add_argument("archive")
    _place_flags(r)
    add_backend_flags(r)
    r.set_defaults(handler=_cmd_register)
