"""The `build-function` of hatch-jupyter-builder for this project (see [tool.hatch.build.hooks.jupyter-builder]).

It is hatch_jupyter_builder's `npm_builder` (`jlpm install` + `jlpm run build:prod` in labextension/,
with the `jlpm` that `jupyterlab` in `build-system.requires` puts into pip's build environment),
with three differences:

- Node.js missing, building a wheel (`pip install .` or `pip install -e .`): the build of the side
  panel is skipped and the wheel carries the Python side only, and that is said in one line.
  pip shows a build backend's output only on failure or with `-v` (pypa/pip#6634), so the line
  also goes straight to the terminal (/dev/tty) when there is one.
- Node.js missing, building an sdist: an error, because an sdist must carry the built panel.
- The build failing with Node.js present: an error (with the same way out), never a silent skip.

`SKIP_JUPYTER_BUILDER=1` (hatch-jupyter-builder's own switch) installs the Python side only.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from hatch_jupyter_builder import npm_builder

# relative to the project root, the build's working directory
ENSURED = ("flyte_jupyter/labextension/package.json", "flyte_jupyter/labextension/static/style.js")

NO_NODE = ("flyte-jupyter: Node.js not found, so the JupyterLab side panel was NOT built (the Python "
           "package works without it); install Node.js >= 18 and run pip install again to get the panel.")
NO_NODE_SDIST = ("flyte-jupyter: Node.js not found, and an sdist must carry the built JupyterLab side panel; "
                 "install Node.js >= 18 (or build the panel first: .ci/setup-lab.sh).")
FAILED = ("flyte-jupyter: building the JupyterLab side panel failed (output above); fix that, or set "
          "SKIP_JUPYTER_BUILDER=1 to install the Python side only.")


def _tell(line: str) -> None:
    print(line, file=sys.stderr, flush=True)  # pip -v, python -m build, hatch build
    if sys.stderr.isatty():
        return
    try:  # pip captures our output: reach the user's terminal directly
        with open("/dev/tty", "w") as tty:
            tty.write(f"\n{line}\n")
    except OSError:  # no terminal (CI, Windows): the stderr line is all there is
        pass


def build(target_name: str, version: str, **kwargs: Any) -> None:
    if shutil.which("node") is None:
        if target_name == "wheel":
            _tell(NO_NODE)
            return
        raise SystemExit(NO_NODE_SDIST)
    try:
        npm_builder(target_name, version, **kwargs)
        missing = [p for p in ENSURED if not os.path.exists(p)]
        if missing:
            raise FileNotFoundError(f"the build did not produce {', '.join(missing)}")
    except Exception as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        raise SystemExit(FAILED) from e
