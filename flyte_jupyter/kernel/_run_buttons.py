"""The run widget's buttons that act on a finished run from the notebook: Resume (a failed or
aborted remote run, with the notebook's current code) and Debug (a failed action of a remote run,
re-run in this kernel). What they print, and the new run's widget, go to an Output area under the
run's widget, so a click's result shows where the user clicked."""

from __future__ import annotations

from typing import Any, Callable

import ipywidgets as widgets

from flyte_jupyter.kernel._errors import CellError


def _shell() -> Any:
    from IPython import get_ipython

    return get_ipython()


class ResumeButton:
    """Resume: shown once a remote run ended FAILED, ABORTED or TIMED_OUT."""

    def __init__(self, run: Any, out: widgets.Output, show_run: Callable[[Any], Any]) -> None:
        self.run = run
        self.out = out
        self.show_run = show_run
        self.button = widgets.Button(
            description="Resume", icon="play", button_style="warning",
            tooltip="a new run with the notebook's current code: actions that succeeded with unchanged "
                    "code and inputs are recovered, the rest run (%flyte resume)",
            layout=widgets.Layout(width="auto", display="none"))
        self.button.add_class("flyte-resume")
        self.button.on_click(lambda _b: self.click())
        self.resumed: Any = None

    def update(self) -> None:
        from flyte_jupyter.kernel._resume import RESUMABLE

        show = getattr(self.run, "mode", "") == "remote" and self.run.done and self.run.phase in RESUMABLE
        display = "" if show else "none"
        if self.button.layout.display != display:
            self.button.layout.display = display

    def click(self) -> None:
        from flyte_jupyter.kernel import _submit
        from flyte_jupyter.kernel._resume import resume

        shell = _shell()
        with self.out:
            try:
                # clicked: there is a widget frontend, which shows every action's output
                self.resumed = resume(shell, self.run.name, _submit.Target(capture_output=True))
            except CellError as exc:
                print(f"cannot resume: {exc}")
                return
            if shell is not None:
                shell.user_ns["_flyte_run"] = self.resumed
            self.show_run(self.resumed)


def debug_button(run: Any, name: str, out: widgets.Output) -> widgets.Button:
    """Debug: re-run a failed action's task in this kernel with its recorded inputs (%flyte debug)."""
    button = widgets.Button(description="debug here", icon="bug",
                            tooltip="fetch this action's code and inputs and run its task in this kernel; "
                                    "then %debug stops where it raised (%flyte debug)",
                            layout=widgets.Layout(width="auto", height="22px", margin="0 0 4px 8px", flex="0 0 auto"))
    button.add_class("flyte-debug-button")

    def click(_b: Any) -> None:
        from flyte_jupyter.kernel._debug import debug_action

        with out:
            try:
                debug_action(_shell(), run.name, name)
            except CellError as exc:
                print(f"cannot debug: {exc}")
            except BaseException:  # the task's own failure: shown here, and %debug opens it
                import sys
                import traceback

                sys.last_type, sys.last_value, sys.last_traceback = sys.exc_info()
                traceback.print_exc()
                print("the task raised: run %debug in a cell to open the debugger at the raising line")

    button.on_click(click)
    return button


__all__ = ["ResumeButton", "debug_button"]
