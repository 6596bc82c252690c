from flyte_jupyter._internal.wire.proto import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateRunRequest(_message.Message):
    __slots__ = ("project", "domain", "run_name", "task", "inputs_uri", "inputs", "inputs_hash", "overwrite_cache", "env_vars", "labels", "raw_data_path", "task_ref", "rerun")
    class EnvVarsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    RUN_NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    INPUTS_URI_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_HASH_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_CACHE_FIELD_NUMBER: _ClassVar[int]
    ENV_VARS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    RAW_DATA_PATH_FIELD_NUMBER: _ClassVar[int]
    TASK_REF_FIELD_NUMBER: _ClassVar[int]
    RERUN_FIELD_NUMBER: _ClassVar[int]
    project: str
    domain: str
    run_name: str
    task: _common_pb2.TaskSpec
    inputs_uri: str
    inputs: bytes
    inputs_hash: str
    overwrite_cache: bool
    env_vars: _containers.ScalarMap[str, str]
    labels: _containers.ScalarMap[str, str]
    raw_data_path: str
    task_ref: _common_pb2.TaskIdentifier
    rerun: RerunSource
    def __init__(self, project: _Optional[str] = ..., domain: _Optional[str] = ..., run_name: _Optional[str] = ..., task: _Optional[_Union[_common_pb2.TaskSpec, _Mapping]] = ..., inputs_uri: _Optional[str] = ..., inputs: _Optional[bytes] = ..., inputs_hash: _Optional[str] = ..., overwrite_cache: _Optional[bool] = ..., env_vars: _Optional[_Mapping[str, str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., raw_data_path: _Optional[str] = ..., task_ref: _Optional[_Union[_common_pb2.TaskIdentifier, _Mapping]] = ..., rerun: _Optional[_Union[RerunSource, _Mapping]] = ...) -> None: ...

class RerunSource(_message.Message):
    __slots__ = ("run", "action", "recover", "force_rerun_actions")
    RUN_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RECOVER_FIELD_NUMBER: _ClassVar[int]
    FORCE_RERUN_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    run: str
    action: str
    recover: bool
    force_rerun_actions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, run: _Optional[str] = ..., action: _Optional[str] = ..., recover: _Optional[bool] = ..., force_rerun_actions: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _common_pb2.Run
    def __init__(self, run: _Optional[_Union[_common_pb2.Run, _Mapping]] = ...) -> None: ...

class GetRunRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: _common_pb2.ActionIdentifier
    def __init__(self, id: _Optional[_Union[_common_pb2.ActionIdentifier, _Mapping]] = ...) -> None: ...

class GetRunResponse(_message.Message):
    __slots__ = ("run", "actions")
    RUN_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    run: _common_pb2.Run
    actions: _containers.RepeatedCompositeFieldContainer[_common_pb2.Action]
    def __init__(self, run: _Optional[_Union[_common_pb2.Run, _Mapping]] = ..., actions: _Optional[_Iterable[_Union[_common_pb2.Action, _Mapping]]] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("project", "domain", "limit", "phase")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    project: str
    domain: str
    limit: int
    phase: str
    def __init__(self, project: _Optional[str] = ..., domain: _Optional[str] = ..., limit: _Optional[int] = ..., phase: _Optional[str] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[_common_pb2.Run]
    def __init__(self, runs: _Optional[_Iterable[_Union[_common_pb2.Run, _Mapping]]] = ...) -> None: ...

class AbortRunRequest(_message.Message):
    __slots__ = ("id", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: _common_pb2.ActionIdentifier
    reason: str
    def __init__(self, id: _Optional[_Union[_common_pb2.ActionIdentifier, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class AbortRunResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteRunRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: _common_pb2.ActionIdentifier
    def __init__(self, id: _Optional[_Union[_common_pb2.ActionIdentifier, _Mapping]] = ...) -> None: ...

class DeleteRunResponse(_message.Message):
    __slots__ = ("actions", "kept")
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    KEPT_FIELD_NUMBER: _ClassVar[int]
    actions: int
    kept: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, actions: _Optional[int] = ..., kept: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchRunsRequest(_message.Message):
    __slots__ = ("project", "domain")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    project: str
    domain: str
    def __init__(self, project: _Optional[str] = ..., domain: _Optional[str] = ...) -> None: ...

class WatchRunsResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _common_pb2.Run
    def __init__(self, run: _Optional[_Union[_common_pb2.Run, _Mapping]] = ...) -> None: ...
