"""Errors a user sees, worded so that they say what failed, where, and what to do."""

from __future__ import annotations


class FlyteJupyterError(Exception):
    """Base of every error raised by flyte_jupyter itself."""


class ActionFailedError(FlyteJupyterError):
    """An action ended in failure; it names the deepest action that failed and the original error.

    `kind` is the original exception's type name (e.g. "ValueError"); in local mode the original
    exception is also chained as `__cause__`.
    """

    def __init__(
        self,
        *,
        action: str,
        task: str,
        kind: str,
        message: str,
        attempts: int = 1,
        max_attempts: int = 1,
        traceback: str = "",
        phase: str = "FAILED",
    ) -> None:
        self.action = action
        self.task = task
        self.kind = kind
        self.message = message
        self.attempts = attempts
        self.max_attempts = max_attempts
        self.traceback = traceback
        self.phase = phase
        super().__init__(str(self))

    def __str__(self) -> str:
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        verb = "timed out" if self.phase == "TIMED_OUT" else "failed"
        return f"action {self.action} (task {self.task}) {verb}{tries}: {self.kind}: {self.message}"


class TaskTimeoutError(FlyteJupyterError, TimeoutError):
    """Raised inside the controller when one attempt runs past the task's timeout."""


class ActionAbortedError(FlyteJupyterError):
    """The run or action was aborted by a user."""


class InitializationError(FlyteJupyterError):
    """flyte_jupyter is not configured for what was asked (e.g. a remote run without an endpoint)."""
