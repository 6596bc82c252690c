"""`flyte.logger`: the logger for task code (Flyte 2's user logger).

A `logging.Logger` named "flyte_jupyter.user" at INFO that writes to stderr without passing records
up to the root logger, so `flyte.logger.info("...")` in a task shows in the action's logs (and under
a cell) once, whatever the root logger is set to. `FLYTE_JUPYTER_LOG_LEVEL` changes its level.
"""

from __future__ import annotations

import logging
import os

LOGGER_NAME = "flyte_jupyter.user"


def _make_logger() -> logging.Logger:
    log = logging.getLogger(LOGGER_NAME)
    level = os.environ.get("FLYTE_JUPYTER_LOG_LEVEL", "INFO").upper()
    log.setLevel(getattr(logging, level, logging.INFO))
    if not log.handlers:
        handler = logging.StreamHandler()  # sys.stderr, looked up at each write
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
    log.propagate = False
    return log


logger = _make_logger()

__all__ = ["LOGGER_NAME", "logger"]
