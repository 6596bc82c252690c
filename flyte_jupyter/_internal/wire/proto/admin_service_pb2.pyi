from flyte_jupyter._internal.wire.proto import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CacheEntry(_message.Message):
    __slots__ = ("project", "domain", "task_name", "cache_version", "inputs_hash", "outputs_uri", "created_at", "source")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    CACHE_VERSION_FIELD_NUMBER: _ClassVar[int]
    INPUTS_HASH_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_URI_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    project: str
    domain: str
    task_name: str
    cache_version: str
    inputs_hash: str
    outputs_uri: str
    created_at: float
    source: _common_pb2.ActionIdentifier
    def __init__(self, project: _Optional[str] = ..., domain: _Optional[str] = ..., task_name: _Optional[str] = ..., cache_version: _Optional[str] = ..., inputs_hash: _Optional[str] = ..., outputs_uri: _Optional[str] = ..., created_at: _Optional[float] = ..., source: _Optional[_Union[_common_pb2.ActionIdentifier, _Mapping]] = ...) -> None: ...

class ListCacheRequest(_message.Message):
    __slots__ = ("task_name", "limit")
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    task_name: str
    limit: int
    def __init__(self, task_name: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListCacheResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[CacheEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[CacheEntry, _Mapping]]] = ...) -> None: ...

class ClearCacheRequest(_message.Message):
    __slots__ = ("task_name",)
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    task_name: str
    def __init__(self, task_name: _Optional[str] = ...) -> None: ...

class ClearCacheResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: int
    def __init__(self, removed: _Optional[int] = ...) -> None: ...

class SetLimitsRequest(_message.Message):
    __slots__ = ("project", "domain", "limits")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    project: str
    domain: str
    limits: _common_pb2.Resources
    def __init__(self, project: _Optional[str] = ..., domain: _Optional[str] = ..., limits: _Optional[_Union[_common_pb2.Resources, _Mapping]] = ...) -> None: ...

class SetLimitsResponse(_message.Message):
    __slots__ = ("limits",)
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    limits: _common_pb2.Resources
    def __init__(self, limits: _Optional[_Union[_common_pb2.Resources, _Mapping]] = ...) -> None: ...

class GetLimitsRequest(_message.Message):
    __slots__ = ("project", "domain")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    project: str
    domain: str
    def __init__(self, project: _Optional[str] = ..., domain: _Optional[str] = ...) -> None: ...

class GetLimitsResponse(_message.Message):
    __slots__ = ("limits",)
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    limits: _common_pb2.Resources
    def __init__(self, limits: _Optional[_Union[_common_pb2.Resources, _Mapping]] = ...) -> None: ...

class BackendStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BackendStatusResponse(_message.Message):
    __slots__ = ("version", "executor", "max_parallelism", "running", "queued", "data_dir", "storage_root", "pid", "waiting_parents", "task_types", "cpu_capacity", "cpu_requested", "memory_capacity", "memory_requested")
    class TaskTypesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    MAX_PARALLELISM_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    DATA_DIR_FIELD_NUMBER: _ClassVar[int]
    STORAGE_ROOT_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    WAITING_PARENTS_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPES_FIELD_NUMBER: _ClassVar[int]
    CPU_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    CPU_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    MEMORY_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    MEMORY_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    version: str
    executor: str
    max_parallelism: int
    running: int
    queued: int
    data_dir: str
    storage_root: str
    pid: int
    waiting_parents: int
    task_types: _containers.ScalarMap[str, str]
    cpu_capacity: float
    cpu_requested: float
    memory_capacity: int
    memory_requested: int
    def __init__(self, version: _Optional[str] = ..., executor: _Optional[str] = ..., max_parallelism: _Optional[int] = ..., running: _Optional[int] = ..., queued: _Optional[int] = ..., data_dir: _Optional[str] = ..., storage_root: _Optional[str] = ..., pid: _Optional[int] = ..., waiting_parents: _Optional[int] = ..., task_types: _Optional[_Mapping[str, str]] = ..., cpu_capacity: _Optional[float] = ..., cpu_requested: _Optional[float] = ..., memory_capacity: _Optional[int] = ..., memory_requested: _Optional[int] = ...) -> None: ...

class ResourceAttributes(_message.Message):
    __slots__ = ("defaults", "limits")
    DEFAULTS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    defaults: _common_pb2.Resources
    limits: _common_pb2.Resources
    def __init__(self, defaults: _Optional[_Union[_common_pb2.Resources, _Mapping]] = ..., limits: _Optional[_Union[_common_pb2.Resources, _Mapping]] = ...) -> None: ...

class UpdateResourceAttributesRequest(_message.Message):
    __slots__ = ("project", "domain", "attributes")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    project: str
    domain: str
    attributes: ResourceAttributes
    def __init__(self, project: _Optional[str] = ..., domain: _Optional[str] = ..., attributes: _Optional[_Union[ResourceAttributes, _Mapping]] = ...) -> None: ...

class ResourceAttributesResponse(_message.Message):
    __slots__ = ("project", "domain", "attributes", "limits_in_effect")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    LIMITS_IN_EFFECT_FIELD_NUMBER: _ClassVar[int]
    project: str
    domain: str
    attributes: ResourceAttributes
    limits_in_effect: _common_pb2.Resources
    def __init__(self, project: _Optional[str] = ..., domain: _Optional[str] = ..., attributes: _Optional[_Union[ResourceAttributes, _Mapping]] = ..., limits_in_effect: _Optional[_Union[_common_pb2.Resources, _Mapping]] = ...) -> None: ...

class GetResourceAttributesRequest(_message.Message):
    __slots__ = ("project", "domain")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    project: str
    domain: str
    def __init__(self, project: _Optional[str] = ..., domain: _Optional[str] = ...) -> None: ...

class DeleteResourceAttributesRequest(_message.Message):
    __slots__ = ("project", "domain")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    project: str
    domain: str
    def __init__(self, project: _Optional[str] = ..., domain: _Optional[str] = ...) -> None: ...

class DeleteResourceAttributesResponse(_message.Message):
    __slots__ = ("existed",)
    EXISTED_FIELD_NUMBER: _ClassVar[int]
    existed: bool
    def __init__(self, existed: _Optional[bool] = ...) -> None: ...
