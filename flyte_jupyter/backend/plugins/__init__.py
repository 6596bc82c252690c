"""Executor plugins, each a package of the same shape: `create_plugin(config) -> ExecutorPlugin`
is what the `flyte_jupyter.executor_plugins` entry point names."""
