"""Child process of a panel submission: import a notebook's module and submit one of its tasks.

Reads one JSON request on stdin (module, source, task, inputs, endpoint, api_key, project, domain,
labels, origin, workdir, notebook_dir) and prints one JSON line: {"name": run} on success, or
{"message": ..., "status": 400} when the notebook or the inputs are at fault.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any


def _fail(message: str, status: int = 400) -> int:
    print(json.dumps({"message": message, "status": status}), flush=True)
    return 1


_SKIP_DIRS = {"__pycache__", ".git", ".ipynb_checkpoints", ".venv", "venv", "node_modules", ".tox"}
_MAX_COPY_BYTES = 50 * 1024 * 1024


def _copy_sources(src: Path, dest: Path) -> None:
    """The notebook folder's Python modules and packages (not data, not notebooks), bounded in size."""
    import shutil

    budget = _MAX_COPY_BYTES
    for entry in sorted(src.iterdir()):
        if entry.is_file() and entry.suffix == ".py":
            budget -= entry.stat().st_size
            if budget < 0:
                return
            shutil.copy2(entry, dest / entry.name)
        elif entry.is_dir() and entry.name not in _SKIP_DIRS and (entry / "__init__.py").is_file():
            for path in sorted(entry.rglob("*.py")):
                rel = path.relative_to(src)
                if _SKIP_DIRS.intersection(rel.parts):
                    continue
                budget -= path.stat().st_size
                if budget < 0:
                    return
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest / rel)


def main() -> int:
    request: dict[str, Any] = json.loads(sys.stdin.read())
    workdir = Path(request["workdir"])
    module_name = request["module"]
    # modules next to the notebook (helpers it imports) come along, as the kernel sees them; the
    # bundle is made of the loaded modules under this one folder, so they ship with the run
    _copy_sources(Path(request["notebook_dir"]), workdir)
    (workdir / f"{module_name}.py").write_text(request["source"])
    sys.path.insert(0, str(workdir))
    os.chdir(workdir)

    if not request.get("endpoint"):
        return _fail("no backend endpoint was given to the submission", 500)

    import flyte_jupyter as flyte

    try:
        module = importlib.import_module(module_name)
    except Exception as err:
        tb = traceback.extract_tb(err.__traceback__)
        where = next((f"line {f.lineno}" for f in reversed(tb) if f.filename.endswith(f"{module_name}.py")), "")
        return _fail(f"running the notebook's definitions failed{' at ' + where if where else ''}: "
                     f"{type(err).__name__}: {err}")
    # after the import: a notebook's own `cfg = flyte.init...(...)` must not redirect the run
    flyte.init(endpoint=request["endpoint"], api_key=request.get("api_key") or None,
               project=request["project"], domain=request["domain"])
    task = getattr(module, request["task"], None)
    if task is None:
        return _fail(f"the notebook defines no task named {request['task']!r}")
    try:
        run = flyte.with_runcontext(mode="remote", project=request["project"], domain=request["domain"],
                                    labels=request["labels"], source=request["origin"]).run(task, **request["inputs"])
    except TypeError as err:
        return _fail(f"inputs do not fit {request['task']}: {err}")
    except Exception as err:
        status = 400 if getattr(err, "code", "") in ("INVALID_ARGUMENT", "ALREADY_EXISTS") else 502
        return _fail(f"{type(err).__name__}: {err}", status)
    print(json.dumps({"name": run.name}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
