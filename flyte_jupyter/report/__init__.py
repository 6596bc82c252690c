"""`flyte.report`: an HTML report per action, as in Flyte 2.

`flyte.report.log(html)`, `replace(html)` and `flush()` act on the current action's "main" tab
(each also as `await flyte.report.log.aio(...)`); `get_tab(name)` returns another tab and
`current_report()` the whole report. Reports are recorded only in tasks declared with
`@env.task(report=True)`; elsewhere the calls warn and do nothing.
"""

from flyte_jupyter.report._report import (
    Report,
    Tab,
    current_report,
    flush,
    get_tab,
    log,
    replace,
)

__all__ = ["Report", "Tab", "current_report", "flush", "get_tab", "log", "replace"]
