"""Every error flyte_jupyter raises to a user, in one hierarchy under `FlyteJupyterError`.

Flyte 2's public exception classes (`flyte.errors`) live here under the same names and bases, so
`except flyte.errors.RuntimeUserError` works after `import flyte_jupyter as flyte`:

    FlyteJupyterError
      BaseRuntimeError (also a RuntimeError: .code, .kind, .worker)
        RuntimeUserError
          ActionFailedError        a child action (or the run) failed; names the deepest failing action
            OOMError, TaskTimeoutError (MaxRuntimeExceededError, MaxQueuedTimeExceededError,
            DeadlineExceededError), RetriesExhaustedError, ActionSystemError (also RuntimeSystemError)
          ActionAbortedError, CustomError, NonRecoverableError, RuntimeDataValidationError
          (TypeMismatchError), ImageBuildError, DeploymentError, ... (Flyte's list)
        RuntimeSystemError (UnionRpcError -> BackendError), RuntimeUnknownError, InitializationError
      ActionNotFoundError (also a LookupError), UnsafeBundleError, NoBackendError

A task that fails raises, in its parent, the same class in local and in remote mode: the class is
chosen from the failure's recorded kind and phase by `action_failure` (as Flyte converts a child's
error), so what the parent can catch does not depend on where the child ran.

Where we differ from Flyte: on an action failure `.kind` is the original exception's type name
("ValueError", "OOMKilled") as it always was here, and `.origin` is Flyte's "user"/"system"; `.code`
is the type name as in Flyte. Errors that are also a standard kind (a type mismatch is a TypeError, an
unsafe bundle a ValueError) derive from both, so existing `except TypeError` code keeps working.
"""

from __future__ import annotations

from typing import Any, Literal

ErrorKind = Literal["system", "unknown", "user"]


class FlyteJupyterError(Exception):
    """Base of every error raised by flyte_jupyter itself."""


# -- Flyte 2's runtime errors ------------------------------------------------------------------------


class BaseRuntimeError(FlyteJupyterError, RuntimeError):
    """A task execution failed: `code` names the error (often the original exception's type),
    `kind` says whose fault it was ("user", "system", "unknown"), `worker` where it ran."""

    def __init__(self, code: str, kind: str, root_cause_message: str, worker: str | None = None) -> None:
        super().__init__(root_cause_message)
        self.code = code
        self.kind = kind
        self.worker = worker

    def _reraise(self, *_args: Any) -> Any:
        # flyte.map(return_exceptions=True) hands failures back as values: arithmetic on one
        # (sum(results)) raises the real failure instead of a confusing TypeError, as in Flyte.
        raise self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _reraise
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _reraise


class InitializationError(BaseRuntimeError):
    """Something that needs `flyte.init(...)` (a project, a backend) was used before it."""


class RuntimeSystemError(BaseRuntimeError):
    """A task failed because of the system (a lost process, an unreachable backend), not its code."""

    def __init__(self, code: str, message: str, worker: str | None = None) -> None:
        super().__init__(code, "system", message, worker)


class UnionRpcError(RuntimeSystemError):
    """A call to the backend failed (Flyte's name; here raised as `BackendError`)."""


class RuntimeUserError(BaseRuntimeError):
    """A task failed because of an error in the user's code; `code` is that error's type name."""

    def __init__(self, code: str, message: str, worker: str | None = None) -> None:
        super().__init__(code, "user", message, worker)


class RuntimeUnknownError(BaseRuntimeError):
    """A task failed for a reason nobody could classify."""

    def __init__(self, code: str, message: str, worker: str | None = None) -> None:
        super().__init__(code, "unknown", message, worker)


# -- action failures ----------------------------------------------------------------------------------


class ActionFailedError(RuntimeUserError):
    """An action ended in failure; it names the deepest action that failed and the original error.

    `kind` (and `code`, Flyte's name) is the original exception's type name (e.g. "ValueError");
    `origin` is "user" or "system". In local mode the original exception is also chained as
    `__cause__`. Raised in the parent of a failed child (in local and remote mode alike), and by
    `run.outputs()` of a failed run. Also constructible as Flyte's `RuntimeUserError(code, message)`.
    """

    default_code = "RuntimeUserError"

    def __init__(
        self,
        code: str = "",
        message: str = "",
        worker: str | None = None,
        *,
        action: str = "",
        task: str = "",
        kind: str = "",
        attempts: int = 1,
        max_attempts: int = 1,
        traceback: str = "",
        phase: str = "FAILED",
        origin: str = "user",
    ) -> None:
        code = code or kind or self.default_code
        self.action = action
        self.task = task
        self.message = message
        self.attempts = attempts
        self.max_attempts = max_attempts
        self.traceback = traceback
        self.phase = phase
        self.origin = origin
        BaseRuntimeError.__init__(self, code, origin, message, worker)
        self.kind = kind or code  # ours: the original type name (BaseRuntimeError's "user" is .origin)
        self.args = (str(self),)

    def __str__(self) -> str:
        if not self.action:
            return self.message or self.code
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        verb = "timed out" if self.phase == "TIMED_OUT" else "failed"
        return f"action {self.action} (task {self.task}) {verb}{tries}: {self.kind}: {self.message}"

    def __reduce__(self) -> Any:  # pickles (across processes) keep every field
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[BaseException], state: dict[str, Any]) -> Any:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    err.args = (str(err),)
    return err


class ActionSystemError(ActionFailedError, RuntimeSystemError):
    """An action failed because of the system: its process was lost, its code could not be loaded,
    the backend refused one of its children. Also an `ActionFailedError` (so existing handlers
    keep catching every failure) and a `RuntimeSystemError`."""

    default_code = "RuntimeSystemError"


class OOMError(ActionFailedError):
    """An action ran out of memory (killed over its memory limit, or raised MemoryError)."""

    default_code = "OOMKilled"


class TaskTimeoutError(ActionFailedError):
    """An action ran past one of its `flyte.Timeout` bounds; subclasses say which one."""

    default_code = "TaskTimeoutError"

    def __init__(self, message: str = "", code: str = "", **fields: Any) -> None:
        fields.setdefault("phase", "TIMED_OUT")
        super().__init__(code or fields.pop("kind", "") or self.default_code, message, **fields)


class MaxRuntimeExceededError(TaskTimeoutError):
    """An attempt ran longer than `Timeout.max_runtime` and was stopped."""

    default_code = "MaxRuntimeExceededError"


class MaxQueuedTimeExceededError(TaskTimeoutError):
    """An action waited in the queue longer than `Timeout.max_queued_time`."""

    default_code = "MaxQueuedTimeExceededError"


class DeadlineExceededError(TaskTimeoutError):
    """An action did not end within `Timeout.deadline`, counted across all of its attempts."""

    default_code = "DeadlineExceededError"


class RetriesExhaustedError(ActionFailedError):
    """An action failed on every attempt its retry policy allowed (Flyte's name; here a failed
    action after retries is an `ActionFailedError` whose `.attempts` says how many ran)."""

    default_code = "RetriesExhaustedError"


class ActionAbortedError(RuntimeUserError):
    """An action or run was aborted (by a user, or because its parent ended); a parent awaiting
    an aborted child raises this, as does `outputs()` of an aborted run."""

    def __init__(self, message: str = "the action was aborted", *, action: str = "", task: str = "") -> None:
        super().__init__("ActionAbortedError", message, "user")
        self.action = action
        self.task = task


# -- Flyte 2's other user errors (same names, same constructors) --------------------------------------


class _MessageError(RuntimeUserError):
    """A user error constructed from a message alone; its code is its class name."""

    def __init__(self, message: str = "", code: str | None = None) -> None:
        super().__init__(code or type(self).__name__, message)


class TaskInterruptedError(_MessageError):
    """The task was interrupted (e.g. an interruptible node went away)."""


class PrimaryContainerNotFoundError(_MessageError):
    """The pod template names no container matching its primary_container_name."""


class InvalidImageNameError(_MessageError):
    """An image name is not valid."""


class ImagePullBackOffError(_MessageError):
    """An image could not be pulled."""


class CustomError(RuntimeUserError):
    """Raise this from a task to fail with a code of your own: `CustomError("Quota", "over quota")`;
    the parent sees that code in `.code`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, "user")

    @classmethod
    def from_exception(cls, e: Exception) -> "CustomError":
        new_exc = cls(e.__class__.__name__, str(e))
        new_exc.__cause__ = e
        return new_exc


class NotInTaskContextError(_MessageError):
    """Something that needs a running task (ctx(), a report) was used outside one."""


class ActionNotFoundError(FlyteJupyterError, LookupError):
    """The run or action asked for does not exist on the backend."""


class RemoteTaskNotFoundError(_MessageError):
    """A registered task asked for does not exist."""


class RemoteTaskUsageError(_MessageError):
    """A remote task reference was used in a way it cannot be."""


class LogsNotYetAvailableError(BaseRuntimeError):
    """An action's logs cannot be read yet (it has not started)."""

    def __init__(self, message: str) -> None:
        super().__init__("LogsNotYetAvailable", "system", message, None)


class RuntimeDataValidationError(RuntimeUserError):
    """A value could not be converted to or from its declared type."""

    def __init__(self, var: str, e: Exception | str, task_name: str = "") -> None:
        super().__init__("DataValidationError",
                         f"In task {task_name} variable {var}, failed to serialize/deserialize because of {e}")


class DeploymentError(_MessageError):
    """A deployment failed, or what it needs is missing."""


class ModuleLoadError(_MessageError):
    """A task's module could not be loaded."""


class InlineIOMaxBytesBreached(_MessageError):
    """Inputs or outputs passed inline are larger than the task's max_inline_io_bytes."""


class SlowDownError(_MessageError):
    """The backend asks the caller to slow down."""


class ResourceExhaustedError(SlowDownError):
    """The backend is out of a resource (capacity, quota)."""


class OnlyAsyncIOSupportedError(_MessageError):
    """Only the async form of this call is supported here."""


class RestrictedTypeError(_MessageError):
    """A type that cannot be used here (Flyte's code: RestrictedTypeUsage)."""


class CodeBundleError(_MessageError):
    """A code bundle could not be made (no files found, unreadable files)."""


class SyncTaskCallInAsyncContextError(_MessageError):
    """A sync task was called blockingly from async code where that would block the event loop."""


class TraceDoesNotAllowNestedTasksError(_MessageError):
    """A task was called from inside a traced function; tasks nest under tasks, not traces."""


class InvalidPackageError(RuntimeUserError):
    """An image names a system package that does not exist."""

    def __init__(self, package_name: str, original_error: str) -> None:
        self.package_name = package_name
        self.original_error = original_error
        super().__init__("InvalidPackageError", f"Invalid system package detected: {package_name!r}. "
                         f"This package does not exist in apt repositories. Error: {original_error}")


class NonRecoverableError(_MessageError):
    """Raise this from a task to fail at once: no retries, whatever the retry policy says."""


class SecretNotFoundError(NonRecoverableError):
    """A task declares a secret that is not there (in local mode: on the configured backend, nor in
    its environment variable); the message names it and how to provide it."""


# -- values and code --------------------------------------------------------------------------


class TypeMismatchError(RuntimeDataValidationError, TypeError):
    """A value does not match its declared type.

    The message names the parameter, the task, the expected type and the type given, e.g.
    ``input 'n' of task 'hello.main' expects int, got str ('abc')``; for a nested value it adds
    where inside the value the mismatch is. The parts are kept as attributes too.
    """

    def __init__(self, message: str, *, param: str = "", task: str = "", expected: str = "", got: str = ""):
        RuntimeUserError.__init__(self, "TypeMismatchError", message)
        self.param = param
        self.task = task
        self.expected = expected
        self.got = got


class UnsafeBundleError(FlyteJupyterError, ValueError):
    """A code bundle is refused: a member would land outside the destination, or it is too big."""


class NotSupportedHereError(FlyteJupyterError, NotImplementedError):
    """A Flyte 2 API that exists here but needs a backend feature flyte-jupyter does not have yet;
    the message names the gap and what to do instead."""


class UnknownPluginConfigError(FlyteJupyterError, TypeError):
    """A `plugin_config` whose type no installed task plugin registered (`flyte_jupyter.extend`);
    the message names the type and the registered ones."""


# -- the backend ---------------------------------------------------------------------------------


class BackendError(UnionRpcError):
    """A backend call failed; `code` is the gRPC status name, the message says what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.message = message

    def __reduce__(self) -> Any:
        return (type(self), (self.code, self.message))


class NoBackendError(FlyteJupyterError, LookupError):
    """Nothing is configured and the embedded backend is not running (and was not to be started)."""


# -- images ----------------------------------------------------------------------------------------


class ImageBuildError(RuntimeUserError):
    """An image could not be built, or was declared in a way this builder cannot honour."""

    def __init__(self, message: str = "") -> None:
        super().__init__("ImageBuildError", message, "user")


class UnsupportedImageError(ImageBuildError):
    """The chosen builder cannot produce what the image spec asks for (e.g. apt packages in a venv)."""


class DockerEngineUnavailableError(ImageBuildError):
    """No Docker engine answers, so nothing can be built with the Docker builder."""


# -- from a recorded failure to the class a parent raises --------------------------------------------

_TIMEOUT_CLASSES: dict[str, type[TaskTimeoutError]] = {
    "TaskTimeoutError": TaskTimeoutError,
    "MaxRuntimeExceededError": MaxRuntimeExceededError,
    "MaxQueuedTimeExceededError": MaxQueuedTimeExceededError,
    "DeadlineExceededError": DeadlineExceededError,
}


def action_failure(
    *,
    action: str,
    task: str,
    kind: str,
    message: str,
    attempts: int = 1,
    max_attempts: int = 1,
    traceback: str = "",
    phase: str = "FAILED",
    origin: str = "user",
) -> RuntimeUserError:
    """The exception a parent (or `run.outputs()`) raises for a child that ended FAILED, TIMED_OUT
    or ABORTED: one function for the local controller, the remote controller and remote runs, so
    both modes raise the same classes (chosen as Flyte chooses them from the error's code)."""
    if phase == "ABORTED":
        return ActionAbortedError(message or f"action {action} was aborted", action=action, task=task)
    fields: dict[str, Any] = dict(action=action, task=task, kind=kind, attempts=attempts, max_attempts=max_attempts,
                  traceback=traceback, phase=phase, origin=origin)
    if phase == "TIMED_OUT" or kind in _TIMEOUT_CLASSES:
        cls = _TIMEOUT_CLASSES.get(kind)
        if cls is None:  # the backend's kinds: a queued timeout is the system's, a runtime one the user's
            cls = MaxQueuedTimeExceededError if origin == "system" else MaxRuntimeExceededError
        fields["phase"] = "TIMED_OUT"
        return cls(message, cls.default_code, **fields)  # .code names the bound, .kind what was recorded
    if "OOM" in kind.upper():
        return OOMError(kind, message, **fields)
    if kind == "RetriesExhaustedError":
        return RetriesExhaustedError(kind, message, **fields)
    if origin == "system":
        return ActionSystemError(kind, message, **fields)
    return ActionFailedError(kind, message, **fields)


def error_code(exc: BaseException) -> str:
    """The code a failure is recorded under: a Flyte error's `.code`, else the exception's type name."""
    if isinstance(exc, ActionFailedError):
        return exc.kind
    if isinstance(exc, BaseRuntimeError) and exc.code:
        return exc.code
    if isinstance(exc, MemoryError):
        return "OOMKilled"
    return type(exc).__name__
