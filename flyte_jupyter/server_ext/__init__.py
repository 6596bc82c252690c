"""The flyte_jupyter Jupyter server extension: REST and websocket API for the JupyterLab panel.

Enabled by `jupyter-config/server-config/flyte_jupyter.json` (installed into
`etc/jupyter/jupyter_server_config.d`), so `pip install flyte-jupyter` is the only step.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from flyte_jupyter.server_ext._app import FlyteJupyter

    return [{"module": "flyte_jupyter.server_ext", "app": FlyteJupyter}]

