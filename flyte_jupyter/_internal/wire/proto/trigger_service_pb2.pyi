from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TriggerSpec(_message.Message):
    __slots__ = ("name", "cron", "timezone", "interval_minutes", "start_time", "description", "auto_activate", "trigger_time_input", "inputs", "env_vars", "overwrite_cache", "labels", "catch_up")
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
    NAME_FIELD_NUMBER: _ClassVar[int]
    CRON_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_MINUTES_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AUTO_ACTIVATE_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_TIME_INPUT_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    ENV_VARS_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_CACHE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CATCH_UP_FIELD_NUMBER: _ClassVar[int]
    name: str
    cron: str
    timezone: str
    interval_minutes: int
    start_time: float
    description: str
    auto_activate: bool
    trigger_time_input: str
    inputs: bytes
    env_vars: _containers.ScalarMap[str, str]
    overwrite_cache: bool
    labels: _containers.ScalarMap[str, str]
    catch_up: bool
    def __init__(self, name: _Optional[str] = ..., cron: _Optional[str] = ..., timezone: _Optional[str] = ..., interval_minutes: _Optional[int] = ..., start_time: _Optional[float] = ..., description: _Optional[str] = ..., auto_activate: _Optional[bool] = ..., trigger_time_input: _Optional[str] = ..., inputs: _Optional[bytes] = ..., env_vars: _Optional[_Mapping[str, str]] = ..., overwrite_cache: _Optional[bool] = ..., labels: _Optional[_Mapping[str, str]] = ..., catch_up: _Optional[bool] = ...) -> None: ...

class TriggerInfo(_message.Message):
    __slots__ = ("project", "domain", "task_name", "task_version", "spec", "active", "next_fire", "last_fire", "last_run", "created_at", "schedule")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_VERSION_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIRE_FIELD_NUMBER: _ClassVar[int]
    LAST_FIRE_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    project: str
    domain: str
    task_name: str
    task_version: str
    spec: TriggerSpec
    active: bool
    next_fire: float
    last_fire: float
    last_run: str
    created_at: float
    schedule: str
    def __init__(self, project: _Optional[str] = ..., domain: _Optional[str] = ..., task_name: _Optional[str] = ..., task_version: _Optional[str] = ..., spec: _Optional[_Union[TriggerSpec, _Mapping]] = ..., active: _Optional[bool] = ..., next_fire: _Optional[float] = ..., last_fire: _Optional[float] = ..., last_run: _Optional[str] = ..., created_at: _Optional[float] = ..., schedule: _Optional[str] = ...) -> None: ...

class ListTriggersRequest(_message.Message):
    __slots__ = ("project", "domain", "task_name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    project: str
    domain: str
    task_name: str
    def __init__(self, project: _Optional[str] = ..., domain: _Optional[str] = ..., task_name: _Optional[str] = ...) -> None: ...

class ListTriggersResponse(_message.Message):
    __slots__ = ("triggers",)
    TRIGGERS_FIELD_NUMBER: _ClassVar[int]
    triggers: _containers.RepeatedCompositeFieldContainer[TriggerInfo]
    def __init__(self, triggers: _Optional[_Iterable[_Union[TriggerInfo, _Mapping]]] = ...) -> None: ...

class TriggerRef(_message.Message):
    __slots__ = ("project", "domain", "task_name", "name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    TASK_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project: str
    domain: str
    task_name: str
    name: str
    def __init__(self, project: _Optional[str] = ..., domain: _Optional[str] = ..., task_name: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class UpdateTriggerRequest(_message.Message):
    __slots__ = ("ref", "active")
    REF_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    ref: TriggerRef
    active: bool
    def __init__(self, ref: _Optional[_Union[TriggerRef, _Mapping]] = ..., active: _Optional[bool] = ...) -> None: ...

class UpdateTriggerResponse(_message.Message):
    __slots__ = ("trigger",)
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    trigger: TriggerInfo
    def __init__(self, trigger: _Optional[_Union[TriggerInfo, _Mapping]] = ...) -> None: ...

class DeleteTriggerRequest(_message.Message):
    __slots__ = ("ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    ref: TriggerRef
    def __init__(self, ref: _Optional[_Union[TriggerRef, _Mapping]] = ...) -> None: ...

class DeleteTriggerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
