"""`flyte.report`: an HTML report per action, written to the action's storage as report.html.

Needs `@env.task(report=True)`; elsewhere the calls are no-ops with a warning, so a helper shared
between reporting and non-reporting tasks still works.
"""

from __future__ import annotations

import html as _html
import threading
import warnings
from typing import Any

from flyte_jupyter._context import TaskContext, ctx


class Tab:
    def __init__(self, name: str, owner: "Report") -> None:
        self.name = name
        self._owner = owner
        self._parts: list[str] = []

    def log(self, content: str) -> None:
        with self._owner._lock:
            self._parts.append(content)

    def replace(self, content: str) -> None:
        with self._owner._lock:
            self._parts = [content]

    def html(self) -> str:
        return "\n".join(self._parts)


class Report:
    """The report of one action: named tabs of HTML, "main" first."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._lock = threading.Lock()
        self.tabs: dict[str, Tab] = {}
        self.get_tab("main")

    @classmethod
    def for_action(cls, tc: TaskContext) -> "Report":
        base = tc.raw_data_path.rstrip("/")
        return cls(f"{base}/{tc.action.name}/report.html")

    def get_tab(self, name: str) -> Tab:
        with self._lock:
            if name not in self.tabs:
                self.tabs[name] = Tab(name, self)
            return self.tabs[name]

    def render(self) -> str:
        sections = []
        for tab in self.tabs.values():
            body = tab.html()
            if body or tab.name == "main":
                sections.append(f'<section data-tab="{_html.escape(tab.name)}"><h2>{_html.escape(tab.name)}</h2>'
                                f"\n{body}\n</section>")
        return "<!doctype html>\n<html><head><meta charset='utf-8'><title>report</title></head><body>\n" + \
            "\n".join(sections) + "\n</body></html>\n"

    def flush(self) -> None:
        from flyte_jupyter._internal.runtime.storage import put_bytes

        put_bytes(self.uri, self.render().encode())


def _current_report() -> Report | None:
    tc = ctx()
    report = tc.report if tc is not None else None
    if report is None:
        warnings.warn("flyte.report is only recorded in tasks declared with @env.task(report=True)", stacklevel=3)
    return report


class _Call:
    """A report call usable as `report.log(...)` and `await report.log.aio(...)`."""

    def __init__(self, action: str) -> None:
        self._action = action

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        report = _current_report()
        if report is None:
            return
        if self._action == "flush":
            report.flush()
        else:
            getattr(report.get_tab("main"), self._action)(*args, **kwargs)

    async def aio(self, *args: Any, **kwargs: Any) -> None:
        self(*args, **kwargs)


log = _Call("log")
replace = _Call("replace")
flush = _Call("flush")


def get_tab(name: str) -> Tab | None:
    """The named tab of the current action's report (created on first use), or None outside one."""
    report = _current_report()
    return report.get_tab(name) if report is not None else None


def current_report() -> Report | None:
    """The current action's whole report, or None (with a warning) outside a reporting task."""
    return _current_report()
