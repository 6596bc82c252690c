"""The magics' arguments (declared with IPython's magic_arguments) without a kernel."""

from __future__ import annotations

import pytest

from flyte_jupyter.kernel._errors import CellError
from flyte_jupyter.kernel._magics import (
    _COMMANDS,
    FlyteMagics,
    _HelpRequested,
    _parse,
    _parse_cell_line,
    transform_cell_lines,
)


def test_run_options_go_before_the_task_and_every_later_word_is_an_input() -> None:
    ns = _parse(_COMMANDS["run"], ["--local", "--out", "v", "greet", "--name", "a b", "--local"])
    assert (ns.local, ns.out, ns.name, ns.task) == (True, "v", None, "greet")
    assert ns.inputs == ["--name", "a b", "--local"]
    assert _parse(_COMMANDS["run"], ["greet"]).inputs == []


def test_usage_errors_are_one_line_naming_the_help() -> None:
    with pytest.raises(CellError, match=r"^%flyte run: the following arguments are required: TASK\. "
                                        r"See `%flyte run --help`$"):
        _parse(_COMMANDS["run"], ["--local"])
    with pytest.raises(CellError, match="invalid int value: 'x'"):
        _parse(_COMMANDS["runs"], ["--limit", "x"])
    with pytest.raises(CellError, match=r"^%%flyte run: unrecognized arguments: --wait"):
        _parse_cell_line("run --wait")
    with pytest.raises(CellError, match="the cell form is"):
        _parse_cell_line("runs")


def test_help_is_generated() -> None:
    with pytest.raises(_HelpRequested) as shown:
        _parse(_COMMANDS["logs"], ["--help"])
    assert shown.value.text.startswith("  %flyte logs [-h] [--follow] [--attempt N] RUN [ACTION]")
    doc = FlyteMagics.flyte.__doc__
    assert "%flyte [-h] [COMMAND] ..." in doc and "%%flyte run [-h] [--name N] [--local]" in doc


def test_command_question_mark_asks_for_its_help() -> None:
    assert transform_cell_lines(["%flyte run?\n"]) == ["%flyte help run\n"]
    assert transform_cell_lines(["x = 1\n", "  %flyte logs??\n"]) == ["x = 1\n", "  %flyte help logs\n"]
    untouched = ["%flyte nope?\n"]
    assert transform_cell_lines(untouched) is untouched
