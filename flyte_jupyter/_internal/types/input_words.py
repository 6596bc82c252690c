"""Task inputs given as `--name value` words, shared by `flyte-jupyter run` and `%flyte run`."""

from __future__ import annotations

import json
from typing import Any, Sequence


def parse_value(text: str) -> Any:
    """A word is JSON when it parses as JSON (numbers, lists, true), else plain text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_task_inputs(task: Any, words: Sequence[str], *, options_hint: str = "") -> dict[str, Any]:
    """`--x 1 --name=abc` -> {"x": 1, "name": "abc"}; a str input keeps its text as given.

    Raises ValueError naming the word that is wrong and the task's inputs; `options_hint` is added
    when a word is not an input, to say where the command's own options go.
    """
    inputs = task.interface.inputs
    kwargs: dict[str, Any] = {}
    i = 0
    while i < len(words):
        key = words[i]
        if not key.startswith("--"):
            raise ValueError(f"expected `--input value` pairs for the task's inputs, got {key!r}")
        name, eq, value = key[2:].replace("-", "_").partition("=")
        if name not in inputs:
            raise ValueError(f"task {task.name} has no input {name!r}; its inputs are {list(inputs)}"
                             + (f" ({options_hint})" if options_hint else ""))
        if not eq:
            if i + 1 >= len(words):
                raise ValueError(f"input --{name} has no value")
            value = words[i + 1]
            i += 1
        i += 1
        kwargs[name] = value if inputs[name][0] is str else parse_value(value)
    return kwargs
