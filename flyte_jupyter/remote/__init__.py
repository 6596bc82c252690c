"""`flyte.remote`: objects that live on a backend, read through the configured client.

- `Run` (also `RemoteRun`): what `flyte.run` returns in remote mode; `Run.get(name)`,
  `Run.listall(...)`, `run.wait()`, `run.outputs()`, `run.inputs()`, `run.abort()`, `run.action`,
  `run.get_logs()` / `show_logs()`.
- `Action`: one action of a run; `Action.get(run_name=..., name=...)`, `Action.listall(run_name)`,
  `wait()`, `outputs()`, `inputs()`, `get_logs()`, `abort()`.
- `Task`: a deployed task; `Task.get(name, project=, domain=, version=)` (or `auto_version="latest"`),
  `Task.listall(...)`; `flyte.run(task, ...)` runs its registered code, not local code.

- `Secret`: secrets on the backend; `Secret.create(name, value)`, `get`, `listall`, `delete` (no value
  ever comes back).
- `Trigger`: schedules of deployed tasks; `Trigger.listall(task_name=)`, `get`, `update(name, task_name,
  active=)`, `delete`.

Each listing and lookup has Flyte's `.aio` form (`await Run.get.aio(name)`).
"""

from flyte_jupyter.remote._action import Action
from flyte_jupyter.remote._run import RemoteRun
from flyte_jupyter.remote._secret import Secret
from flyte_jupyter.remote._task import Task
from flyte_jupyter.remote._trigger import Trigger

Run = RemoteRun

__all__ = ["Action", "RemoteRun", "Run", "Secret", "Task", "Trigger"]
