"""Task plugins shipped with flyte-jupyter: `plugins.sql` (SQLite3Task, SQLAlchemyTask) and
`plugins.dask` (Dask). Each registers itself with `flyte_jupyter.extend` when imported."""
