"""`ContainerTask`: a command in a container image, with typed inputs and outputs as files.

Flyte 2's `flyte.extras.ContainerTask` (task type "raw-container"). Its config (image, command
and arguments, the typed inputs and outputs, the data directories) travels in the TaskSpec's
``custom_json``; staging and collecting are `_internal/runtime/raw_container.py`, shared with the
backend's raw-container plugin. A task made standalone has an environment of its own, named after
it; `TaskEnvironment.from_task(name, task)` gives it a named one, which a calling environment lists
in ``depends_on``.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import pathlib
import re
from typing import Any, Callable, Literal

from flyte_jupyter._internal.runtime import raw_container as raw
from flyte_jupyter._task import Interface, TaskTemplate

_IDENT = re.compile(r"[^A-Za-z0-9_]")


def _function_for(name: str, module: str) -> Callable[..., Any]:
    """The stand-in function a TaskTemplate needs (its name and module; never called)."""

    async def container(**inputs: Any) -> Any:
        raise TypeError(f"container task {name} runs a container, not a Python function: call it inside a run, "
                        "or start it with flyte.run(task, ...)")

    ident = _IDENT.sub("_", name)
    container.__name__ = container.__qualname__ = ident if not ident[:1].isdigit() else f"t_{ident}"
    container.__module__ = module
    return container


def _env_name(name: str) -> str:
    text = re.sub(r"[^a-z0-9_-]", "-", name.lower()).strip("-_")[:63].strip("-_")
    return text or "container"


class ContainerTask(TaskTemplate):
    """A task that runs ``command`` (then ``arguments``) in ``image``.

    ``inputs``/``outputs`` map names to types (int, float, str, bool, datetime, timedelta, File).
    Each input is written to ``input_data_dir/<name>`` and replaces ``{{.inputs.<name>}}`` in the
    command; each output is read from ``output_data_dir/<name>``. ``image="local"`` runs the command
    on this host (no container engine needed), the data directories swapped for host ones.
    """

    task_type = "raw-container"
    MetadataFormat = Literal["JSON", "YAML", "PROTO"]

    def __init__(
        self,
        name: str,
        image: Any,
        command: list[str],
        inputs: dict[str, type] | None = None,
        arguments: list[str] | None = None,
        outputs: dict[str, type] | None = None,
        input_data_dir: str | pathlib.Path = "/var/inputs",
        output_data_dir: str | pathlib.Path = "/var/outputs",
        metadata_format: "ContainerTask.MetadataFormat" = "JSON",
        local_logs: bool = True,
        file_input_layout: Literal["DIRECT", "NAMED_DIR"] = "DIRECT",
        **kwargs: Any,
    ) -> None:
        from flyte_jupyter._environment import TaskEnvironment

        if isinstance(command, str):
            command = [command]
        for what, parts in (("command", command), ("arguments", arguments or [])):
            if not isinstance(parts, (list, tuple)) or any(not isinstance(p, str) for p in parts):
                raise ValueError(f"ContainerTask {name!r}: every element of {what} must be a string, got {parts!r}")
        if file_input_layout != "DIRECT":
            raise ValueError(f"ContainerTask {name!r}: file_input_layout={file_input_layout!r} is not supported here; "
                             "use 'DIRECT' (each input is the file input_data_dir/<name>)")
        if image is None or image == "auto":  # as Flyte: the default Debian image, built at submission
            from flyte_jupyter._image import Image

            image = Image.from_debian_base()
        declared_image = image
        self.raw_config = raw.RawConfig.from_custom({raw.CONFIG_KEY: {
            "image": declared_image if isinstance(declared_image, str) else raw.BUILT_IMAGE,
            "command": [*command, *(arguments or [])],
            "inputs": {k: raw.type_name(v) for k, v in (inputs or {}).items()},
            "outputs": {k: raw.type_name(v) for k, v in (outputs or {}).items()},
            "input_data_dir": str(input_data_dir), "output_data_dir": str(output_data_dir),
            "metadata_format": metadata_format,
        }}, name)
        self._declared_inputs = dict(inputs or {})
        self._declared_outputs = dict(outputs or {})
        self.local_logs = local_logs
        self.container_image = declared_image
        caller = inspect.currentframe()
        module = (caller.f_back.f_globals.get("__name__", "__main__") if caller and caller.f_back else "__main__")
        # A reference is run as it is (no builder involved); an Image spec is built at submission.
        env_image = "auto" if isinstance(declared_image, str) else declared_image
        env = TaskEnvironment(name=_env_name(name), image=env_image)
        super().__init__(_function_for(name, module), env, **kwargs)
        self.short_name = name
        env._tasks[self.name] = self

    # -- what the task is -------------------------------------------------------------------------

    @functools.cached_property
    def interface(self) -> Interface:
        return Interface(inputs={k: (v, inspect.Parameter.empty) for k, v in self._declared_inputs.items()},
                         output=raw.output_type(self._declared_outputs))

    @functools.cached_property
    def _source_hash(self) -> str:
        """Cache versions follow what the container runs, not a Python body."""
        body = json.dumps({**self.raw_config.to_json(), "image": repr(self.container_image)}, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()

    def custom_config(self, sctx: Any = None) -> dict[str, Any]:
        """The TaskSpec's ``custom_json``: the raw-container config."""
        return {raw.CONFIG_KEY: self.raw_config.to_json()}

    def rebind(self, env: Any) -> None:
        """Move the task into ``env`` (`TaskEnvironment.from_task`)."""
        self.env._tasks.pop(self.name, None)
        self.env = env
        self.name = f"{env.name}.{self.func.__name__}"
        env._tasks[self.name] = self

    # -- running ----------------------------------------------------------------------------------

    def check_runnable(self) -> None:
        """Refuse, before a local run starts, an image no engine can run (see `_local_run`)."""
        from flyte_jupyter.extras._local_run import engine_for

        engine_for(self)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"container task {self.name} has no Python body to call; run it with flyte.run")

    async def execute(self, **inputs: Any) -> Any:
        import asyncio

        from flyte_jupyter.extras._local_run import run_locally

        return await asyncio.to_thread(run_locally, self, inputs)

    def __repr__(self) -> str:
        return f"ContainerTask({self.name}, image={self.container_image!r})"
