from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Phase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PHASE_UNSPECIFIED: _ClassVar[Phase]
    PHASE_QUEUED: _ClassVar[Phase]
    PHASE_INITIALIZING: _ClassVar[Phase]
    PHASE_RUNNING: _ClassVar[Phase]
    PHASE_SUCCEEDED: _ClassVar[Phase]
    PHASE_FAILED: _ClassVar[Phase]
    PHASE_ABORTED: _ClassVar[Phase]
    PHASE_TIMED_OUT: _ClassVar[Phase]
    PHASE_RECOVERED: _ClassVar[Phase]
PHASE_UNSPECIFIED: Phase
PHASE_QUEUED: Phase
PHASE_INITIALIZING: Phase
PHASE_RUNNING: Phase
PHASE_SUCCEEDED: Phase
PHASE_FAILED: Phase
PHASE_ABORTED: Phase
PHASE_TIMED_OUT: Phase
PHASE_RECOVERED: Phase

class TaskIdentifier(_message.Message):
    __slots__ = ("project", "domain", "name", "version")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    project: str
    domain: str
    name: str
    version: str
    def __init__(self, project: _Optional[str] = ..., domain: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class ActionIdentifier(_message.Message):
    __slots__ = ("project", "domain", "run", "name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project: str
    domain: str
    run: str
    name: str
    def __init__(self, project: _Optional[str] = ..., domain: _Optional[str] = ..., run: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class Resources(_message.Message):
    __slots__ = ("cpu", "memory", "gpu", "disk")
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    GPU_FIELD_NUMBER: _ClassVar[int]
    DISK_FIELD_NUMBER: _ClassVar[int]
    cpu: str
    memory: str
    gpu: str
    disk: str
    def __init__(self, cpu: _Optional[str] = ..., memory: _Optional[str] = ..., gpu: _Optional[str] = ..., disk: _Optional[str] = ...) -> None: ...

class RetryStrategy(_message.Message):
    __slots__ = ("count", "backoff_seconds", "backoff_factor", "max_backoff_seconds")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_FACTOR_FIELD_NUMBER: _ClassVar[int]
    MAX_BACKOFF_SECONDS_FIELD_NUMBER: _ClassVar[int]
    count: int
    backoff_seconds: float
    backoff_factor: float
    max_backoff_seconds: float
    def __init__(self, count: _Optional[int] = ..., backoff_seconds: _Optional[float] = ..., backoff_factor: _Optional[float] = ..., max_backoff_seconds: _Optional[float] = ...) -> None: ...

class CacheSpec(_message.Message):
    __slots__ = ("enabled", "version", "serialize", "ignored_inputs")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SERIALIZE_FIELD_NUMBER: _ClassVar[int]
    IGNORED_INPUTS_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    version: str
    serialize: bool
    ignored_inputs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, enabled: _Optional[bool] = ..., version: _Optional[str] = ..., serialize: _Optional[bool] = ..., ignored_inputs: _Optional[_Iterable[str]] = ...) -> None: ...

class ReuseSpec(_message.Message):
    __slots__ = ("replicas", "idle_ttl_seconds", "concurrency")
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    IDLE_TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    replicas: int
    idle_ttl_seconds: float
    concurrency: int
    def __init__(self, replicas: _Optional[int] = ..., idle_ttl_seconds: _Optional[float] = ..., concurrency: _Optional[int] = ...) -> None: ...

class InterfaceVariable(_message.Message):
    __slots__ = ("name", "type", "has_default")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    HAS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    has_default: bool
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., has_default: _Optional[bool] = ...) -> None: ...

class TaskInterface(_message.Message):
    __slots__ = ("inputs", "output_type")
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TYPE_FIELD_NUMBER: _ClassVar[int]
    inputs: _containers.RepeatedCompositeFieldContainer[InterfaceVariable]
    output_type: str
    def __init__(self, inputs: _Optional[_Iterable[_Union[InterfaceVariable, _Mapping]]] = ..., output_type: _Optional[str] = ...) -> None: ...

class TaskSpec(_message.Message):
    __slots__ = ("id", "type", "interface", "resources", "retries", "timeout_seconds", "max_queued_seconds", "cache", "args", "env", "custom_json", "image", "reuse", "environment", "interruptible", "secrets", "code_digest", "requests")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_QUEUED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_JSON_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    REUSE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTIBLE_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    CODE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    id: TaskIdentifier
    type: str
    interface: TaskInterface
    resources: Resources
    retries: RetryStrategy
    timeout_seconds: float
    max_queued_seconds: float
    cache: CacheSpec
    args: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.ScalarMap[str, str]
    custom_json: str
    image: str
    reuse: ReuseSpec
    environment: str
    interruptible: bool
    secrets: _containers.RepeatedCompositeFieldContainer[SecretRequest]
    code_digest: str
    requests: Resources
    def __init__(self, id: _Optional[_Union[TaskIdentifier, _Mapping]] = ..., type: _Optional[str] = ..., interface: _Optional[_Union[TaskInterface, _Mapping]] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., retries: _Optional[_Union[RetryStrategy, _Mapping]] = ..., timeout_seconds: _Optional[float] = ..., max_queued_seconds: _Optional[float] = ..., cache: _Optional[_Union[CacheSpec, _Mapping]] = ..., args: _Optional[_Iterable[str]] = ..., env: _Optional[_Mapping[str, str]] = ..., custom_json: _Optional[str] = ..., image: _Optional[str] = ..., reuse: _Optional[_Union[ReuseSpec, _Mapping]] = ..., environment: _Optional[str] = ..., interruptible: _Optional[bool] = ..., secrets: _Optional[_Iterable[_Union[SecretRequest, _Mapping]]] = ..., code_digest: _Optional[str] = ..., requests: _Optional[_Union[Resources, _Mapping]] = ...) -> None: ...

class SecretRequest(_message.Message):
    __slots__ = ("key", "group", "mount", "as_env_var")
    KEY_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    MOUNT_FIELD_NUMBER: _ClassVar[int]
    AS_ENV_VAR_FIELD_NUMBER: _ClassVar[int]
    key: str
    group: str
    mount: str
    as_env_var: str
    def __init__(self, key: _Optional[str] = ..., group: _Optional[str] = ..., mount: _Optional[str] = ..., as_env_var: _Optional[str] = ...) -> None: ...

class ActionError(_message.Message):
    __slots__ = ("kind", "message", "traceback", "retryable", "origin")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    kind: str
    message: str
    traceback: str
    retryable: bool
    origin: str
    def __init__(self, kind: _Optional[str] = ..., message: _Optional[str] = ..., traceback: _Optional[str] = ..., retryable: _Optional[bool] = ..., origin: _Optional[str] = ...) -> None: ...

class Action(_message.Message):
    __slots__ = ("id", "parent", "task_name", "task_version", "group", "phase", "attempt", "max_attempts", "error", "cache_hit", "queued_at", "started_at", "ended_at", "inputs_uri", "outputs_uri", "seq", "task_type", "attempts", "recovered_from", "usage")
    ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_VERSION_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CACHE_HIT_FIELD_NUMBER: _ClassVar[int]
    QUEUED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    INPUTS_URI_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_URI_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_FROM_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    id: ActionIdentifier
    parent: str
    task_name: str
    task_version: str
    group: str
    phase: Phase
    attempt: int
    max_attempts: int
    error: ActionError
    cache_hit: bool
    queued_at: float
    started_at: float
    ended_at: float
    inputs_uri: str
    outputs_uri: str
    seq: int
    task_type: str
    attempts: _containers.RepeatedCompositeFieldContainer[AttemptRecord]
    recovered_from: str
    usage: _containers.RepeatedCompositeFieldContainer[AttemptUsage]
    def __init__(self, id: _Optional[_Union[ActionIdentifier, _Mapping]] = ..., parent: _Optional[str] = ..., task_name: _Optional[str] = ..., task_version: _Optional[str] = ..., group: _Optional[str] = ..., phase: _Optional[_Union[Phase, str]] = ..., attempt: _Optional[int] = ..., max_attempts: _Optional[int] = ..., error: _Optional[_Union[ActionError, _Mapping]] = ..., cache_hit: _Optional[bool] = ..., queued_at: _Optional[float] = ..., started_at: _Optional[float] = ..., ended_at: _Optional[float] = ..., inputs_uri: _Optional[str] = ..., outputs_uri: _Optional[str] = ..., seq: _Optional[int] = ..., task_type: _Optional[str] = ..., attempts: _Optional[_Iterable[_Union[AttemptRecord, _Mapping]]] = ..., recovered_from: _Optional[str] = ..., usage: _Optional[_Iterable[_Union[AttemptUsage, _Mapping]]] = ...) -> None: ...

class AttemptRecord(_message.Message):
    __slots__ = ("attempt", "phase", "error", "started_at", "ended_at", "outputs_uri", "log_ref", "backoff_seconds")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_URI_FIELD_NUMBER: _ClassVar[int]
    LOG_REF_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_SECONDS_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    phase: Phase
    error: ActionError
    started_at: float
    ended_at: float
    outputs_uri: str
    log_ref: str
    backoff_seconds: float
    def __init__(self, attempt: _Optional[int] = ..., phase: _Optional[_Union[Phase, str]] = ..., error: _Optional[_Union[ActionError, _Mapping]] = ..., started_at: _Optional[float] = ..., ended_at: _Optional[float] = ..., outputs_uri: _Optional[str] = ..., log_ref: _Optional[str] = ..., backoff_seconds: _Optional[float] = ...) -> None: ...

class AttemptHistory(_message.Message):
    __slots__ = ("attempts",)
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    attempts: _containers.RepeatedCompositeFieldContainer[AttemptRecord]
    def __init__(self, attempts: _Optional[_Iterable[_Union[AttemptRecord, _Mapping]]] = ...) -> None: ...

class AttemptUsage(_message.Message):
    __slots__ = ("attempt", "phase", "queued_at", "started_at", "running_at", "ended_at", "has_usage", "cpu_seconds", "peak_memory_bytes")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    QUEUED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    RUNNING_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    HAS_USAGE_FIELD_NUMBER: _ClassVar[int]
    CPU_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PEAK_MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    phase: Phase
    queued_at: float
    started_at: float
    running_at: float
    ended_at: float
    has_usage: bool
    cpu_seconds: float
    peak_memory_bytes: int
    def __init__(self, attempt: _Optional[int] = ..., phase: _Optional[_Union[Phase, str]] = ..., queued_at: _Optional[float] = ..., started_at: _Optional[float] = ..., running_at: _Optional[float] = ..., ended_at: _Optional[float] = ..., has_usage: _Optional[bool] = ..., cpu_seconds: _Optional[float] = ..., peak_memory_bytes: _Optional[int] = ...) -> None: ...

class Run(_message.Message):
    __slots__ = ("id", "root", "created_at", "labels", "task_name", "action_count")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    ACTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    id: ActionIdentifier
    root: Action
    created_at: float
    labels: _containers.ScalarMap[str, str]
    task_name: str
    action_count: int
    def __init__(self, id: _Optional[_Union[ActionIdentifier, _Mapping]] = ..., root: _Optional[_Union[Action, _Mapping]] = ..., created_at: _Optional[float] = ..., labels: _Optional[_Mapping[str, str]] = ..., task_name: _Optional[str] = ..., action_count: _Optional[int] = ...) -> None: ...
