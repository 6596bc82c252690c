"""TaskEnvironment: the shared defaults (image, resources, env vars, cache, reuse) of a group of tasks."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any, Callable, Literal, Union, overload

from flyte_jupyter._resources import Cache, Resources, ReusePolicy, Secret, as_cache

if TYPE_CHECKING:
    from flyte_jupyter._task import TaskTemplate

_NAME = re.compile(r"^[a-z0-9]([-_a-z0-9]{0,61}[a-z0-9])?$")


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"environment name {name!r} is not valid: use 1-63 lowercase letters, digits, '-' or '_', "
            "starting and ending with a letter or digit"
        )
    return name


@dataclasses.dataclass
class TaskEnvironment:
    """Defaults shared by the tasks declared with `@env.task`."""

    name: str
    depends_on: list["TaskEnvironment"] = dataclasses.field(default_factory=list)
    pod_template: Any = None
    description: str | None = None
    secrets: Union[Secret, str, list, None] = None
    env_vars: dict[str, str] | None = None
    resources: Resources | None = None
    interruptible: bool = False
    image: Any = "auto"
    include: tuple[str, ...] = ()
    service_account: str | None = None
    cache: Union[Cache, str, bool] = "disable"
    reusable: ReusePolicy | None = None
    plugin_config: Any = None
    queue: str | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        self.cache = as_cache(self.cache)
        self._tasks: dict[str, TaskTemplate] = {}
        for dep in self.depends_on:
            if not isinstance(dep, TaskEnvironment):
                raise TypeError(f"depends_on takes TaskEnvironment objects, got {type(dep).__name__}")
        if self.plugin_config is not None and self.reusable is not None:
            raise ValueError(f"environment {self.name} has both plugin_config and reusable: a reusable "
                             "environment cannot take a plugin config (as in Flyte 2); drop one of them")

    # dataclass eq/hash would compare task dicts; identity is what matters for environments.
    __hash__ = object.__hash__

    def __eq__(self, other: object) -> bool:
        return self is other

    @overload
    def task(self, _func: Callable, /) -> "TaskTemplate": ...

    @overload
    def task(self, _func: None = None, /, **options: Any) -> Callable[[Callable], "TaskTemplate"]: ...

    def task(self, _func: Callable | None = None, /, **options: Any) -> Any:
        """Declare a task: `@env.task` or `@env.task(retries=3, cache="auto", ...)`."""
        from flyte_jupyter._task import TaskTemplate

        task_class: type[TaskTemplate] = TaskTemplate
        if self.plugin_config is not None:  # refused here, at declaration, when no plugin serves it
            from flyte_jupyter._task_plugins import TaskPluginRegistry

            task_class = TaskPluginRegistry.class_for(self.plugin_config)

        def decorate(func: Callable) -> TaskTemplate:
            template = task_class(func, self, **options)
            self._tasks[template.name] = template
            return template

        return decorate(_func) if _func is not None else decorate

    @property
    def tasks(self) -> dict[str, "TaskTemplate"]:
        return dict(self._tasks)

    @classmethod
    def from_task(cls, name: str, *tasks: "TaskTemplate",
                  depends_on: list["TaskEnvironment"] | None = None) -> "TaskEnvironment":
        """An environment holding ``tasks`` made outside of one (a `ContainerTask`), as Flyte 2's
        `TaskEnvironment.from_task`: its image is theirs (they must agree); calling environments list
        it in ``depends_on``. Each task is named ``<name>.<task>`` from then on."""
        for task in tasks:
            if getattr(task, "rebind", None) is None:
                raise ValueError(f"task {task.name} already belongs to the environment {task.env.name}; "
                                 "from_task takes tasks made outside of an environment (a ContainerTask)")
        images = {id(task.env.image): task.env.image for task in tasks}
        if len(images) > 1:
            raise ValueError(f"the tasks given to TaskEnvironment.from_task({name!r}) have different images "
                             f"{list(images.values())}; put them in separate environments")
        env = cls(name=name, image=next(iter(images.values())) if images else "auto", depends_on=list(depends_on or []))
        for task in tasks:
            task.rebind(env)  # type: ignore[attr-defined]
        return env

    def add_dependency(self, *envs: "TaskEnvironment") -> None:
        for env in envs:
            if env is not self and env not in self.depends_on:
                self.depends_on.append(env)

    def clone_with(
        self,
        name: str,
        image: Any = None,
        resources: Resources | None = None,
        env_vars: dict[str, str] | None = None,
        secrets: Any = None,
        depends_on: list["TaskEnvironment"] | None = None,
        **kwargs: Any,
    ) -> "TaskEnvironment":
        """A new environment with this one's settings except those given; it has no tasks yet."""
        changes: dict[str, Any] = {"name": name, **kwargs}
        for key, value in (("image", image), ("resources", resources), ("env_vars", env_vars),
                           ("secrets", secrets), ("depends_on", depends_on)):
            if value is not None:
                changes[key] = value
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields.update(changes)
        fields["depends_on"] = list(fields["depends_on"])
        return TaskEnvironment(**fields)

    def __repr__(self) -> str:
        return f"TaskEnvironment(name={self.name!r}, tasks={list(self._tasks)})"


Mode = Literal["local", "remote"]
