"""`flyte.remote.Secret`: secrets on the backend, as Flyte 2 names them.

    flyte.remote.Secret.create("openai", "sk-...")       # stored encrypted by the backend
    [s.name for s in flyte.remote.Secret.listall()]      # names only
    flyte.remote.Secret.get("openai")                    # its name and times, never its value
    flyte.remote.Secret.delete("openai")

In the client's project and domain (`flyte.init(project=, domain=)`, or the config file's).
Each has Flyte's `.aio` form. No method returns a value: tasks read secrets they declare
(`@env.task(secrets=[flyte.Secret("openai", as_env_var="OPENAI_API_KEY")])`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Union

from flyte_jupyter.remote._common import client_for, syncified_classmethod


async def _acall(make: Any) -> Any:
    from flyte_jupyter._internal.client.calls import acall

    return await acall(make)


@dataclasses.dataclass(frozen=True)
class Secret:
    """A stored secret: where and when (no value)."""

    name: str
    project: str
    domain: str
    created_at: float
    updated_at: float
    type: str = "regular"

    @classmethod
    def _of(cls, info: Any) -> "Secret":
        return cls(info.id.name, info.id.project, info.id.domain, info.created_at, info.updated_at)

    @syncified_classmethod
    async def create(cls: Any, name: str, value: Union[str, bytes], type: str = "regular") -> None:
        """Store a secret (a string or bytes); it exists once this returns."""
        from flyte_jupyter._internal.client import platform
        from flyte_jupyter._internal.runtime.secret_names import check_secret_name

        check_secret_name(name)
        if type != "regular":
            raise ValueError(f"secret type {type!r} is not supported here: only 'regular' (registries use "
                             "Docker's own login)")
        data = value.encode() if isinstance(value, str) else bytes(value)
        client = client_for()
        await _acall(lambda: platform.create_secret(client, name, data))

    @syncified_classmethod
    async def get(cls: Any, name: str) -> "Secret":
        from flyte_jupyter._internal.client import platform

        client = client_for()
        return cls._of(await _acall(lambda: platform.get_secret(client, name)))

    @syncified_classmethod
    async def listall(cls: Any, limit: int = 100) -> list["Secret"]:
        """The secrets of the project and domain, by name (the sync form returns an iterator)."""
        from flyte_jupyter._internal.client import platform

        client = client_for()
        found = await _acall(lambda: platform.list_secrets(client, limit=limit))
        return [cls._of(s) for s in found]

    @syncified_classmethod
    async def delete(cls: Any, name: str) -> None:
        from flyte_jupyter._internal.client import platform

        client = client_for()
        await _acall(lambda: platform.delete_secret(client, name))
