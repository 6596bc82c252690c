"""Every error flyte_jupyter raises to a user, in one hierarchy under `FlyteJupyterError`.

Each is worded to say what failed, where, and what to do. Errors that are also a standard kind
(a type mismatch is a TypeError, an unsafe bundle a ValueError) derive from both, so existing
`except TypeError` code keeps working.
"""

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


# -- values and code --------------------------------------------------------------------------


class TypeMismatchError(FlyteJupyterError, TypeError):
    """A value does not match its declared type.

    The message names the parameter, the task, the expected type and the type given, e.g.
    ``input 'n' of task 'hello.main' expects int, got str ('abc')``; for a nested value it adds
    where inside the value the mismatch is. The parts are kept as attributes too.
    """

    def __init__(self, message: str, *, param: str = "", task: str = "", expected: str = "", got: str = ""):
        super().__init__(message)
        self.param = param
        self.task = task
        self.expected = expected
        self.got = got


class UnsafeBundleError(FlyteJupyterError, ValueError):
    """A code bundle is refused: a member would land outside the destination, or it is too big."""


# -- the backend ---------------------------------------------------------------------------------


class BackendError(FlyteJupyterError):
    """A backend call failed; `code` is the gRPC status name, the message says what to do."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


class NoBackendError(FlyteJupyterError, LookupError):
    """Nothing is configured and the embedded backend is not running (and was not to be started)."""


# -- images ----------------------------------------------------------------------------------------


class ImageBuildError(FlyteJupyterError):
    """An image could not be built, or was declared in a way this builder cannot honour."""


class UnsupportedImageError(ImageBuildError):
    """The chosen builder cannot produce what the image spec asks for (e.g. apt packages in a venv)."""


class DockerEngineUnavailableError(ImageBuildError):
    """No Docker engine answers, so nothing can be built with the Docker builder."""
