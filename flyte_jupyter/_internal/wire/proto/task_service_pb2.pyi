from flyte_jupyter._internal.wire.proto import common_pb2 as _common_pb2
from flyte_jupyter._internal.wire.proto import trigger_service_pb2 as _trigger_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskInput(_message.Message):
    __slots__ = ("name", "type", "has_default", "default", "default_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    HAS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    has_default: bool
    default: bytes
    default_json: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., has_default: _Optional[bool] = ..., default: _Optional[bytes] = ..., default_json: _Optional[str] = ...) -> None: ...

class TaskEntry(_message.Message):
    __slots__ = ("spec", "inputs", "output_type", "docs", "source_file", "source_digest", "code_digest", "triggers")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DOCS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FILE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    CODE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    TRIGGERS_FIELD_NUMBER: _ClassVar[int]
    spec: _common_pb2.TaskSpec
    inputs: _containers.RepeatedCompositeFieldContainer[TaskInput]
    output_type: str
    docs: str
    source_file: str
    source_digest: str
    code_digest: str
    triggers: _containers.RepeatedCompositeFieldContainer[_trigger_service_pb2.TriggerSpec]
    def __init__(self, spec: _Optional[_Union[_common_pb2.TaskSpec, _Mapping]] = ..., inputs: _Optional[_Iterable[_Union[TaskInput, _Mapping]]] = ..., output_type: _Optional[str] = ..., docs: _Optional[str] = ..., source_file: _Optional[str] = ..., source_digest: _Optional[str] = ..., code_digest: _Optional[str] = ..., triggers: _Optional[_Iterable[_Union[_trigger_service_pb2.TriggerSpec, _Mapping]]] = ...) -> None: ...

class RegisterTasksRequest(_message.Message):
    __slots__ = ("project", "domain", "tasks", "registered_by", "validate_only")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_BY_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    project: str
    domain: str
    tasks: _containers.RepeatedCompositeFieldContainer[TaskEntry]
    registered_by: str
    validate_only: bool
    def __init__(self, project: _Optional[str] = ..., domain: _Optional[str] = ..., tasks: _Optional[_Iterable[_Union[TaskEntry, _Mapping]]] = ..., registered_by: _Optional[str] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class RegisteredTask(_message.Message):
    __slots__ = ("id", "digest", "created_at", "created_by", "entry", "created")
    ID_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    id: _common_pb2.TaskIdentifier
    digest: str
    created_at: float
    created_by: str
    entry: TaskEntry
    created: bool
    def __init__(self, id: _Optional[_Union[_common_pb2.TaskIdentifier, _Mapping]] = ..., digest: _Optional[str] = ..., created_at: _Optional[float] = ..., created_by: _Optional[str] = ..., entry: _Optional[_Union[TaskEntry, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class RegisterTasksResponse(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[RegisteredTask]
    def __init__(self, tasks: _Optional[_Iterable[_Union[RegisteredTask, _Mapping]]] = ...) -> None: ...

class GetTaskRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: _common_pb2.TaskIdentifier
    def __init__(self, id: _Optional[_Union[_common_pb2.TaskIdentifier, _Mapping]] = ...) -> None: ...

class GetTaskResponse(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: RegisteredTask
    def __init__(self, task: _Optional[_Union[RegisteredTask, _Mapping]] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("project", "domain", "name", "limit", "latest_only")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    LATEST_ONLY_FIELD_NUMBER: _ClassVar[int]
    project: str
    domain: str
    name: str
    limit: int
    latest_only: bool
    def __init__(self, project: _Optional[str] = ..., domain: _Optional[str] = ..., name: _Optional[str] = ..., limit: _Optional[int] = ..., latest_only: _Optional[bool] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[RegisteredTask]
    def __init__(self, tasks: _Optional[_Iterable[_Union[RegisteredTask, _Mapping]]] = ...) -> None: ...

class TaskPackage(_message.Message):
    __slots__ = ("format", "bundle_kind", "bundle_file", "bundle_digest", "image_cache", "tasks", "default_version", "code_digest")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_KIND_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_FILE_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    IMAGE_CACHE_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VERSION_FIELD_NUMBER: _ClassVar[int]
    CODE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    format: str
    bundle_kind: str
    bundle_file: str
    bundle_digest: str
    image_cache: str
    tasks: _containers.RepeatedCompositeFieldContainer[TaskEntry]
    default_version: str
    code_digest: str
    def __init__(self, format: _Optional[str] = ..., bundle_kind: _Optional[str] = ..., bundle_file: _Optional[str] = ..., bundle_digest: _Optional[str] = ..., image_cache: _Optional[str] = ..., tasks: _Optional[_Iterable[_Union[TaskEntry, _Mapping]]] = ..., default_version: _Optional[str] = ..., code_digest: _Optional[str] = ...) -> None: ...
