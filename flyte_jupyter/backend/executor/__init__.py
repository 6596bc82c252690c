"""The executor: takes queued actions, picks a plugin by task type and drives attempts to an end.

Plugins implement `flyte_jupyter.backend.executor.plugin.ExecutorPlugin`.
"""

from flyte_jupyter.backend.executor.plugin import (
    BuildError,
    ExecutorPlugin,
    LaunchSpec,
    LogLine,
    Outcome,
    OutcomeKind,
    PluginConfig,
    PluginRegistry,
    PluginStatus,
    StatusCallback,
    default_registry,
)

__all__ = [
    "BuildError",
    "ExecutorPlugin",
    "LaunchSpec",
    "LogLine",
    "Outcome",
    "OutcomeKind",
    "PluginConfig",
    "PluginRegistry",
    "PluginStatus",
    "StatusCallback",
    "default_registry",
]
