from flyte_jupyter._internal.wire.proto import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnqueueActionRequest(_message.Message):
    __slots__ = ("id", "parent", "task", "inputs_uri", "inputs", "inputs_hash", "group", "overwrite_cache", "task_ref")
    ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    INPUTS_URI_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_HASH_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_CACHE_FIELD_NUMBER: _ClassVar[int]
    TASK_REF_FIELD_NUMBER: _ClassVar[int]
    id: _common_pb2.ActionIdentifier
    parent: str
    task: _common_pb2.TaskSpec
    inputs_uri: str
    inputs: bytes
    inputs_hash: str
    group: str
    overwrite_cache: bool
    task_ref: _common_pb2.TaskIdentifier
    def __init__(self, id: _Optional[_Union[_common_pb2.ActionIdentifier, _Mapping]] = ..., parent: _Optional[str] = ..., task: _Optional[_Union[_common_pb2.TaskSpec, _Mapping]] = ..., inputs_uri: _Optional[str] = ..., inputs: _Optional[bytes] = ..., inputs_hash: _Optional[str] = ..., group: _Optional[str] = ..., overwrite_cache: _Optional[bool] = ..., task_ref: _Optional[_Union[_common_pb2.TaskIdentifier, _Mapping]] = ...) -> None: ...

class EnqueueActionResponse(_message.Message):
    __slots__ = ("action", "existed")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    EXISTED_FIELD_NUMBER: _ClassVar[int]
    action: _common_pb2.Action
    existed: bool
    def __init__(self, action: _Optional[_Union[_common_pb2.Action, _Mapping]] = ..., existed: _Optional[bool] = ...) -> None: ...

class EnqueueActionsRequest(_message.Message):
    __slots__ = ("actions",)
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    actions: _containers.RepeatedCompositeFieldContainer[EnqueueActionRequest]
    def __init__(self, actions: _Optional[_Iterable[_Union[EnqueueActionRequest, _Mapping]]] = ...) -> None: ...

class EnqueueActionsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[EnqueueActionResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[EnqueueActionResponse, _Mapping]]] = ...) -> None: ...

class AbortQueuedActionRequest(_message.Message):
    __slots__ = ("id", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: _common_pb2.ActionIdentifier
    reason: str
    def __init__(self, id: _Optional[_Union[_common_pb2.ActionIdentifier, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class AbortQueuedActionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
