"""The layout's rules, checked on the source: no import cycles, the SDK never imports the backend,
the kernel layer or the server extension, the backend takes only `_internal.wire` and
`_internal.runtime` from the SDK, and ARCHITECTURE.md names every module there is.

Imports are read with `ast`, so an import inside a function counts as much as one at the top
(it still runs, just later); only `if TYPE_CHECKING:` blocks are left out, as they never run.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "flyte_jupyter"
GENERATED = "flyte_jupyter._internal.wire.proto."
OUTSIDE_SDK = ("flyte_jupyter.backend", "flyte_jupyter.kernel", "flyte_jupyter.server_ext", "flyte_jupyter.cli")
BACKEND_MAY_USE = ("flyte_jupyter._internal.wire", "flyte_jupyter._internal.runtime")


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if "labextension" in rel.parts:
            continue
        name = ".".join(rel.parts)
        out[name[: -len(".__init__")] if name.endswith(".__init__") else name] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    walk(other)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            walk(child)

    walk(tree)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        for node in _imports(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = name.split(".") if is_pkg else name.split(".")[:-1]
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join(parts + ([node.module] if node.module else []))
                for alias in node.names:  # `from pkg import submodule` imports the submodule
                    targets.append(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles (break each by moving what both sides need into a module of its own):\n" + \
        "\n".join(" <-> ".join(c) for c in cycles)


def _outside(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_sdk_never_imports_the_backend_kernel_server_extension_or_cli() -> None:
    bad = [f"{mod} imports {dep}" for mod, deps in _graph().items() if not _outside(mod, OUTSIDE_SDK)
           for dep in sorted(deps) if _outside(dep, OUTSIDE_SDK)]
    assert not bad, "the SDK must reach the backend only through the gRPC stubs:\n" + "\n".join(bad)


def test_the_backend_imports_only_wire_and_runtime_from_the_sdk() -> None:
    bad = [f"{mod} imports {dep}" for mod, deps in _graph().items() if _outside(mod, ("flyte_jupyter.backend",))
           for dep in sorted(deps)
           if not _outside(dep, ("flyte_jupyter.backend", *BACKEND_MAY_USE))]
    assert not bad, "move what the backend needs into _internal/wire or _internal/runtime:\n" + "\n".join(bad)


def test_architecture_md_names_every_module() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    named = set(re.findall(r"`([\w./]+\.py)`", text)) | set(re.findall(r"`([\w./]+/)`", text))
    missing = []
    for mod, path in _modules().items():
        rel = path.relative_to(ROOT).as_posix()
        if mod.startswith(GENERATED):
            continue  # generated from the .proto files named with their folder
        target = rel[: -len("__init__.py")] if path.name == "__init__.py" else rel
        if target not in named:
            missing.append(target)
    assert not missing, "ARCHITECTURE.md does not name (one line each: its job, what it may import):\n" + \
        "\n".join(missing)


def _private_calls(tree: ast.AST) -> list[int]:
    """Lines that call `X._call(...)` on anything but `self`, or fetch `_call` with getattr."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "_call" and not (
                isinstance(node.value, ast.Name) and node.value.id == "self"):
            lines.append(node.lineno)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and node.args[1].value == "_call"):
            lines.append(node.lineno)
    return lines


def test_no_module_reaches_into_a_clients_or_managers_private_call() -> None:
    """`BackendClient._call` and `RunsManager._call` are theirs: others use public methods (a
    subclass of the manager, or a client for another backend, need not have them)."""
    found = {name: lines for name, path in _modules().items()
             if (lines := _private_calls(ast.parse(path.read_text())))}
    assert not found, f"private _call used from outside its class (module: lines): {found}"
