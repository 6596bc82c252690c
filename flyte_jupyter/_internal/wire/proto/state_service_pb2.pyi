from flyte_jupyter._internal.wire.proto import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WatchRequest(_message.Message):
    __slots__ = ("run", "parent", "since_seq", "terminal_only")
    RUN_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    SINCE_SEQ_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_ONLY_FIELD_NUMBER: _ClassVar[int]
    run: _common_pb2.ActionIdentifier
    parent: str
    since_seq: int
    terminal_only: bool
    def __init__(self, run: _Optional[_Union[_common_pb2.ActionIdentifier, _Mapping]] = ..., parent: _Optional[str] = ..., since_seq: _Optional[int] = ..., terminal_only: _Optional[bool] = ...) -> None: ...

class WatchResponse(_message.Message):
    __slots__ = ("actions", "synced", "seq")
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    SYNCED_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    actions: _containers.RepeatedCompositeFieldContainer[_common_pb2.Action]
    synced: bool
    seq: int
    def __init__(self, actions: _Optional[_Iterable[_Union[_common_pb2.Action, _Mapping]]] = ..., synced: _Optional[bool] = ..., seq: _Optional[int] = ...) -> None: ...

class GetActionRequest(_message.Message):
    __slots__ = ("id", "with_inputs")
    ID_FIELD_NUMBER: _ClassVar[int]
    WITH_INPUTS_FIELD_NUMBER: _ClassVar[int]
    id: _common_pb2.ActionIdentifier
    with_inputs: bool
    def __init__(self, id: _Optional[_Union[_common_pb2.ActionIdentifier, _Mapping]] = ..., with_inputs: _Optional[bool] = ...) -> None: ...

class GetActionResponse(_message.Message):
    __slots__ = ("action", "task", "inputs")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    action: _common_pb2.Action
    task: _common_pb2.TaskSpec
    inputs: bytes
    def __init__(self, action: _Optional[_Union[_common_pb2.Action, _Mapping]] = ..., task: _Optional[_Union[_common_pb2.TaskSpec, _Mapping]] = ..., inputs: _Optional[bytes] = ...) -> None: ...

class TailLogsRequest(_message.Message):
    __slots__ = ("id", "attempt", "follow")
    ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    id: _common_pb2.ActionIdentifier
    attempt: int
    follow: bool
    def __init__(self, id: _Optional[_Union[_common_pb2.ActionIdentifier, _Mapping]] = ..., attempt: _Optional[int] = ..., follow: _Optional[bool] = ...) -> None: ...

class LogLine(_message.Message):
    __slots__ = ("stream", "text", "timestamp", "attempt", "partial")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    stream: str
    text: str
    timestamp: float
    attempt: int
    partial: bool
    def __init__(self, stream: _Optional[str] = ..., text: _Optional[str] = ..., timestamp: _Optional[float] = ..., attempt: _Optional[int] = ..., partial: _Optional[bool] = ...) -> None: ...

class TailLogsResponse(_message.Message):
    __slots__ = ("lines",)
    LINES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[LogLine]
    def __init__(self, lines: _Optional[_Iterable[_Union[LogLine, _Mapping]]] = ...) -> None: ...

class TailRunLogsRequest(_message.Message):
    __slots__ = ("run", "max_actions", "resume")
    RUN_FIELD_NUMBER: _ClassVar[int]
    MAX_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    run: _common_pb2.ActionIdentifier
    max_actions: int
    resume: _containers.RepeatedCompositeFieldContainer[LogCursor]
    def __init__(self, run: _Optional[_Union[_common_pb2.ActionIdentifier, _Mapping]] = ..., max_actions: _Optional[int] = ..., resume: _Optional[_Iterable[_Union[LogCursor, _Mapping]]] = ...) -> None: ...

class LogCursor(_message.Message):
    __slots__ = ("action", "attempt", "lines")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    action: str
    attempt: int
    lines: int
    def __init__(self, action: _Optional[str] = ..., attempt: _Optional[int] = ..., lines: _Optional[int] = ...) -> None: ...

class RunLogLine(_message.Message):
    __slots__ = ("action", "line")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    action: str
    line: LogLine
    def __init__(self, action: _Optional[str] = ..., line: _Optional[_Union[LogLine, _Mapping]] = ...) -> None: ...

class TailRunLogsResponse(_message.Message):
    __slots__ = ("lines",)
    LINES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[RunLogLine]
    def __init__(self, lines: _Optional[_Iterable[_Union[RunLogLine, _Mapping]]] = ...) -> None: ...
