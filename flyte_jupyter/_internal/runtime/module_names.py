"""The module name a notebook or script gets in its code bundle.

A notebook's code is imported in the action (and in the panel's submission process) as a module of
its own, and a script run with `flyte-jupyter run` runs as one. Named after the file's stem, a
`dask.ipynb` or `pandas.py` would be imported instead of the package of that name by every
`import dask` in the action (the Dask plugin's own included), and a notebook named after a module in
its folder would replace that module. Such a file gets `<prefix><stem>` instead (`nb_dask`), which
callers report as a warning. "Installed" means importable where the name is chosen (the Jupyter
server's or the CLI's environment) or in the standard library; a package only the task's image has
is not seen, so prefer notebook names that are no package's.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import sys
from pathlib import Path


def _is(origin: str | None, own_file: Path | None) -> bool:
    return bool(origin) and own_file is not None and Path(str(origin)).resolve() == own_file.resolve()


def _taken(name: str, folder: Path | None, own_file: Path | None) -> bool:
    """`name` is a standard, installed or (in `folder`) sibling top-level module other than the
    file itself."""
    if name in sys.stdlib_module_names or name in sys.builtin_module_names:
        return True
    loaded = sys.modules.get(name)
    if loaded is not None and not _is(getattr(loaded, "__file__", None), own_file):
        return True
    if folder is not None and ((folder / name / "__init__.py").is_file()
                               or (folder / f"{name}.py").is_file() and not _is(str(folder / f"{name}.py"), own_file)):
        return True
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return True  # a broken entry under that name: keep clear of it too
    return spec is not None and not _is(spec.origin, own_file)


def bundle_module_name(path: str | Path, prefix: str, folder: Path | None = None) -> tuple[str, bool]:
    """(a valid module name for the notebook or script at `path`, whether it differs from the
    file's stem because a module of that name is installed or beside it in `folder`)."""
    own_file = Path(path) if str(path).endswith(".py") else None
    stem = re.sub(r"\W", "_", Path(path).stem) or "module"
    if stem[0].isdigit() or keyword.iskeyword(stem):
        stem = f"{prefix}{stem}"
    name = stem
    while _taken(name, folder, own_file):
        name = f"{prefix}{name}"
    return name, name != stem
