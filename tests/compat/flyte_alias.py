"""Make `import flyte` (and `import flyte.io`, `from flyte.errors import ...`, ...) give flyte_jupyter.

`install()` puts an importer first on `sys.meta_path` that answers every `flyte` / `flyte.X.Y`
import with the module `flyte_jupyter` / `flyte_jupyter.X.Y` itself (one module object under two
names, so classes keep their identity). The conformance harness calls it before importing a program;
`shim/flyte/__init__.py` calls it inside action processes (the test backend runs with `shim/` on
PYTHONPATH), so a program's `import flyte` works wherever its tasks run.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from typing import Any

ALIAS = "flyte"
TARGET = "flyte_jupyter"


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: Any) -> Any:
        return importlib.import_module(self.target)

    def exec_module(self, module: Any) -> None:  # already executed under its own name
        return None


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != ALIAS and not fullname.startswith(ALIAS + "."):
            return None
        real = TARGET + fullname[len(ALIAS):]
        try:
            importlib.util.find_spec(real)
        except (ImportError, ValueError):
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(real), is_package=True)


_FINDER = _AliasFinder()


def install() -> None:
    """Alias `flyte` to `flyte_jupyter` in this process (idempotent)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    for name in [n for n in sys.modules if n == ALIAS or n.startswith(ALIAS + ".")]:
        if not getattr(sys.modules[name], "__name__", "").startswith(TARGET):
            del sys.modules[name]  # a real flyte imported earlier would shadow the alias

