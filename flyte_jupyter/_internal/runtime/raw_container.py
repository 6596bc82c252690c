"""Raw containers (`ContainerTask`, task type "raw-container"): what both sides of the wire share.

A raw container runs a command that knows nothing of flyte-jupyter, so its inputs and outputs
cross as plain files, as Flyte's raw-container plugin stages them: before the command starts,
each input is written to ``<input_data_dir>/<name>`` (a scalar as its text, a `File` as the file
itself) and ``{{.inputs.name}}`` in the command and arguments is replaced by the input's text (a
bool as ``true``/``false``); after it exits 0, each declared output is read from
``<output_data_dir>/<name>`` and typed by its declaration (a scalar parsed from the file's text, a
`File` uploaded to storage). The backend's raw-container plugin and a local run both use this
module; only where the command runs differs (a container, or the host for ``image="local"``).

The task's config travels in the TaskSpec's ``custom_json`` under ``raw_container``; every check
of it runs before anything is staged, so a bad config fails before a file is written.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
import shutil
from typing import Any, Mapping

TASK_TYPE = "raw-container"
CONFIG_KEY = "raw_container"
LOCAL_IMAGE = "local"  # run the command on the host, without a container
BUILT_IMAGE = "<built>"  # an `Image` spec: the TaskSpec's image is what the client built for it
METADATA_FORMATS = ("JSON", "YAML", "PROTO")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_TEMPLATE = re.compile(r"\{\{\s*\.inputs\.([A-Za-z0-9_]+)\s*\}\}")
_MAX_OUTPUT_TEXT = 1 << 20  # a scalar output file larger than this is refused (it is read into memory)


class RawContainerError(ValueError):
    """A raw-container config or its data is wrong; the message names the problem and the fix."""


def _type_table() -> dict[str, Any]:
    from flyte_jupyter.io import File

    return {"int": int, "float": float, "str": str, "bool": bool, "datetime": datetime.datetime,
            "timedelta": datetime.timedelta, "File": File}


def type_name(tp: Any) -> str:
    """The name a declared input or output type travels under; a clear error for types a raw
    container cannot stage as a file."""
    for name, known in _type_table().items():
        if tp is known:
            return name
    raise RawContainerError(
        f"a ContainerTask input or output cannot be of type {getattr(tp, '__name__', tp)!r}: a raw container "
        f"exchanges files, so use one of {', '.join(_type_table())}")


@dataclasses.dataclass(frozen=True)
class RawConfig:
    """A ContainerTask's container: image, command, the typed inputs and outputs, their directories."""

    image: str
    command: tuple[str, ...]
    inputs: dict[str, str]  # name -> type name
    outputs: dict[str, str]
    input_data_dir: str = "/var/inputs"
    output_data_dir: str = "/var/outputs"
    metadata_format: str = "JSON"

    @property
    def local(self) -> bool:
        return self.image == LOCAL_IMAGE

    def image_for(self, spec_image: str) -> str:
        """The image to run: the declared reference, or the one built for an `Image` spec."""
        return (spec_image or "") if self.image == BUILT_IMAGE else self.image

    def to_json(self) -> dict[str, Any]:
        return {"image": self.image, "command": list(self.command), "inputs": dict(self.inputs),
                "outputs": dict(self.outputs), "input_data_dir": self.input_data_dir,
                "output_data_dir": self.output_data_dir, "metadata_format": self.metadata_format}

    @classmethod
    def from_custom(cls, custom: Mapping[str, Any] | None, task: str = "") -> "RawConfig":
        """Parse and check the config a TaskSpec carries (``custom[CONFIG_KEY]``)."""
        what = f"raw-container task {task}" if task else "the raw-container task"
        raw = (custom or {}).get(CONFIG_KEY)
        if not isinstance(raw, dict):
            raise RawContainerError(f"{what} has no {CONFIG_KEY!r} object in its custom config; declare it with "
                                    "flyte_jupyter.extras.ContainerTask")
        command = raw.get("command")
        if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
            raise RawContainerError(f"{what}: command must be a non-empty list of strings, got {command!r}")
        if any("\0" in c for c in command):
            raise RawContainerError(f"{what}: the command contains a NUL character")
        image = raw.get("image")
        if not isinstance(image, str) or not image.strip():
            raise RawContainerError(f"{what}: image must be an image reference or 'local', got {image!r}")
        config = cls(image=image.strip(), command=tuple(command),
                     inputs=_names(raw.get("inputs"), what, "inputs"), outputs=_names(raw.get("outputs"), what, "outputs"),
                     input_data_dir=_abs_dir(raw.get("input_data_dir", "/var/inputs"), what, "input_data_dir"),
                     output_data_dir=_abs_dir(raw.get("output_data_dir", "/var/outputs"), what, "output_data_dir"),
                     metadata_format=str(raw.get("metadata_format", "JSON")))
        if config.metadata_format not in METADATA_FORMATS:
            raise RawContainerError(f"{what}: metadata_format must be one of {', '.join(METADATA_FORMATS)}, "
                                    f"got {config.metadata_format!r}")
        if config.input_data_dir == config.output_data_dir:
            raise RawContainerError(f"{what}: input_data_dir and output_data_dir are both {config.input_data_dir}; "
                                    "give them different directories")
        for part in config.command:
            for ref in _TEMPLATE.findall(part):
                if ref not in config.inputs:
                    raise RawContainerError(f"{what}: the command uses {{{{.inputs.{ref}}}}} but the task has no input "
                                            f"{ref!r}; its inputs are {sorted(config.inputs)}")
        return config


def _names(value: Any, what: str, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RawContainerError(f"{what}: {field} must map names to type names, got {type(value).__name__}")
    known = _type_table()
    out: dict[str, str] = {}
    for name, tp in value.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise RawContainerError(f"{what}: {field} name {name!r} is not valid: use letters, digits and '_' "
                                    "(it becomes a file name)")
        if tp not in known:
            raise RawContainerError(f"{what}: {field} {name!r} has type {tp!r}; use one of {', '.join(known)}")
        out[name] = tp
    return out


def _abs_dir(value: Any, what: str, field: str) -> str:
    text = str(value)
    if not text.startswith("/") or "\0" in text or ".." in text.split("/") or text.rstrip("/") == "":
        raise RawContainerError(f"{what}: {field} must be an absolute directory other than /, got {text!r}")
    return text.rstrip("/")


def task_env(env: Mapping[str, str]) -> dict[str, str]:
    """The env a raw container gets: the task's own variables, none of the backend's
    (``FLYTE_JUPYTER_*``: the endpoint, the run's credential); such a command never calls back."""
    return {k: v for k, v in env.items() if not k.startswith("FLYTE_JUPYTER_")}


def launch_arg(args: tuple[str, ...] | list[str], flag: str) -> str:
    """The value after ``flag`` in an action's entrypoint arguments (``--inputs``, ``--raw-data-path``)."""
    for i, value in enumerate(args[:-1]):
        if value == flag:
            return args[i + 1]
    return ""


def input_texts(config: RawConfig, inputs_uri: str) -> dict[str, str]:
    """What ``{{.inputs.name}}`` becomes for each scalar input (no file written)."""
    return {name: input_text(value) for name, value in decode_inputs_file(config, inputs_uri).items()}


def input_text(value: Any) -> str:
    """An input as its file holds it and the command sees it (bools as Flyte writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return str(value)


def stage_inputs(config: RawConfig, values: Mapping[str, Any], host_input_dir: str) -> dict[str, str]:
    """Write every input to ``host_input_dir/<name>``; return what ``{{.inputs.name}}`` becomes
    (a File input: its path inside the container's input dir)."""
    from flyte_jupyter._internal.runtime import storage as _storage

    os.makedirs(host_input_dir, exist_ok=True)
    rendered: dict[str, str] = {}
    for name, tp in config.inputs.items():
        if name not in values:
            raise RawContainerError(f"the container task is missing its input {name!r}")
        value = values[name]
        target = os.path.join(host_input_dir, name)
        if tp == "File":
            _storage.download_file(value.path, target)
            rendered[name] = f"{config.input_data_dir}/{name}"
        else:
            text = input_text(value)
            with open(target, "w", encoding="utf-8") as fh:
                fh.write(text)
            rendered[name] = text
    return rendered


def decode_inputs_file(config: RawConfig, inputs_uri: str) -> dict[str, Any]:
    """The task's inputs from its inputs.pb, typed by the declaration."""
    from flyte_jupyter._internal.runtime import storage as _storage
    from flyte_jupyter._internal.types import decode_inputs

    table = _type_table()
    data = _storage.get_bytes(inputs_uri) if inputs_uri else b""
    return decode_inputs(data, {name: table[tp] for name, tp in config.inputs.items()})


def render_command(config: RawConfig, rendered: Mapping[str, str], host_dirs: tuple[str, str] | None = None) -> list[str]:
    """The command with ``{{.inputs.x}}`` filled in. With ``host_dirs`` (the command runs on the host),
    the container's input and output directories in it become those host directories."""
    out = []
    for part in config.command:
        text = _TEMPLATE.sub(lambda m: rendered[m.group(1)], part)
        if host_dirs is not None:
            text = _swap_dir(text, config.input_data_dir, host_dirs[0])
            text = _swap_dir(text, config.output_data_dir, host_dirs[1])
        out.append(text)
    return out


def _swap_dir(text: str, container_dir: str, host_dir: str) -> str:
    return re.sub(re.escape(container_dir) + r"(?=/|$|\s)", lambda _: host_dir, text)


def read_outputs(config: RawConfig, host_output_dir: str, raw_prefix: str) -> dict[str, Any]:
    """Every declared output, read from ``host_output_dir/<name>`` and typed (a File is uploaded
    under ``raw_prefix``). A missing or unreadable output raises RawContainerError naming it."""
    from flyte_jupyter._internal.runtime import storage as _storage
    from flyte_jupyter.io import File

    values: dict[str, Any] = {}
    for name, tp in config.outputs.items():
        path = os.path.join(host_output_dir, name)
        if os.path.islink(path) or not os.path.isfile(path):
            raise RawContainerError(
                f"the container exited 0 but wrote no output {name!r}: write it to {config.output_data_dir}/{name}")
        if tp == "File":
            uri = _storage.join(raw_prefix, name) if raw_prefix else path
            if raw_prefix:
                _storage.upload_file(path, uri)
            values[name] = File(path=uri)
            continue
        if os.path.getsize(path) > _MAX_OUTPUT_TEXT:
            raise RawContainerError(f"output {name!r} is over {_MAX_OUTPUT_TEXT} bytes; a {tp} output is a short "
                                    "text: declare it as File")
        with open(path, encoding="utf-8", errors="replace") as fh:
            values[name] = parse_output(name, tp, fh.read())
    return values


def parse_output(name: str, tp: str, text: str) -> Any:
    """An output's value from the text of its file, as declared (``tp``: a scalar type name)."""
    text = text.strip()
    try:
        if tp == "int":
            return int(text)
        if tp == "float":
            return float(text)
        if tp == "bool":
            return text.lower() not in ("false", "0", "")
        if tp == "datetime":
            return datetime.datetime.fromisoformat(text)
        if tp == "timedelta":
            return datetime.timedelta(seconds=float(text))
    except ValueError:
        raise RawContainerError(f"output {name!r} should be {tp} but its file holds {text[:80]!r}") from None
    return text


def output_value(config: RawConfig, values: Mapping[str, Any]) -> Any:
    """What the task returns: nothing, the one output, or a tuple in declaration order."""
    names = list(config.outputs)
    if not names:
        return None
    if len(names) == 1:
        return values[names[0]]
    return tuple(values[n] for n in names)


def output_type(outputs: Mapping[str, Any]) -> Any:
    """The Python type a task with these declared outputs returns (see `output_value`)."""
    types = list(outputs.values())
    if not types:
        return None
    if len(types) == 1:
        return types[0]
    return tuple[tuple(types)]  # type: ignore[misc]


def write_outputs(config: RawConfig, values: Mapping[str, Any], outputs_path: str) -> None:
    """outputs.pb as the SDK reads it: the return value under "o0"."""
    from flyte_jupyter._internal.runtime import storage as _storage
    from flyte_jupyter._internal.types import to_literal
    from flyte_jupyter._internal.wire.proto import literals_pb2

    table = _type_table()
    lm = literals_pb2.LiteralMap()
    if config.outputs:
        tp = output_type({n: table[t] for n, t in config.outputs.items()})
        lm.literals["o0"].CopyFrom(to_literal(output_value(config, values), tp, name="output", role="output"))
    _storage.put_bytes(_storage.join(outputs_path, "outputs.pb"), lm.SerializeToString(deterministic=True))


def write_error(outputs_path: str, kind: str, message: str, *, retryable: bool = False, origin: str = "user") -> None:
    """error.pb for a raw container's failure (the executor reads it as for any action)."""
    from flyte_jupyter._internal.runtime import storage as _storage
    from flyte_jupyter._internal.wire.proto import common_pb2

    err = common_pb2.ActionError(kind=kind, message=message, retryable=retryable, origin=origin)
    _storage.put_bytes(_storage.join(outputs_path, "error.pb"), err.SerializeToString())


def fresh_dir(path: str) -> str:
    """An empty directory at ``path`` (a retried attempt never sees the last one's files)."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path
