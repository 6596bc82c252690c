"""The runs manager owns its settings: `c.BackendRunsManager.*` / `c.RunsManager.*`, built with the
server's config; the names they had on the app (`c.FlyteJupyter.endpoint`, ...) still work."""

from __future__ import annotations

from traitlets.config import Config

from flyte_jupyter.server_ext._app import FlyteJupyter
from flyte_jupyter.server_ext._manager import BackendRunsManager


def _manager(config: Config) -> BackendRunsManager:
    app = FlyteJupyter()
    app.update_config(config)
    return app.runs_manager_class(parent=app, config=app.config, log=app.log)


def test_manager_traits_are_set_on_the_manager_classes() -> None:
    c = Config()
    c.BackendRunsManager.endpoint = "host:1"
    c.RunsManager.project = "ml"
    manager = _manager(c)
    assert isinstance(manager, BackendRunsManager)
    assert (manager.endpoint, manager.project, manager.domain) == ("host:1", "ml", "development")


def test_the_names_on_the_app_still_work_and_the_new_ones_win() -> None:
    c = Config()
    c.FlyteJupyter.endpoint = "old:1"
    c.FlyteJupyter.data_dir = "/old"
    c.RunsManager.data_dir = "/new"
    c.FlyteJupyter.list_poll_interval = 2.0
    manager = _manager(c)
    assert (manager.endpoint, manager.data_dir) == ("old:1", "/new")
    assert dict(c.FlyteJupyter) == {"endpoint": "old:1", "data_dir": "/old", "list_poll_interval": 2.0}

    app = FlyteJupyter()
    app.parse_command_line(["--FlyteJupyter.start_embedded=False", "--BackendRunsManager.endpoint=new:2",
                            "--FlyteJupyter.endpoint=old:2"])
    manager = app.runs_manager_class(parent=app, config=app.config, log=app.log)
    assert (manager.start_embedded, manager.endpoint) == (False, "new:2")
    assert app.list_poll_interval == 1.0
