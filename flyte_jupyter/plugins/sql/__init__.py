"""SQL tasks, named as flytekit names them: a query template run by the backend's Sql plugin
(no user-code process), its rows returned as a `flyte.io.DataFrame`::

    count = SQLite3Task(name="count", query_template="select count(*) as n from t where x > {{ .inputs.lo }}",
                        inputs={"lo": int}, task_config=SQLite3Config(uri="/data/app.db"))

Inputs are bind parameters, never pasted into the SQL text.
"""

from flyte_jupyter.plugins.sql._task import SQLAlchemyConfig, SQLAlchemyTask, SQLite3Config, SQLite3Task, SQLTask

__all__ = ["SQLAlchemyConfig", "SQLAlchemyTask", "SQLTask", "SQLite3Config", "SQLite3Task"]
