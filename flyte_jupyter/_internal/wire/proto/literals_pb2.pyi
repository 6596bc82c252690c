from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Literal(_message.Message):
    __slots__ = ("none", "int", "big_int", "float", "str", "bool", "bytes", "datetime", "date", "duration", "collection", "ints", "floats", "strs", "map", "record", "enum", "blob", "pickle", "offloaded", "union", "dataframe")
    NONE_FIELD_NUMBER: _ClassVar[int]
    INT_FIELD_NUMBER: _ClassVar[int]
    BIG_INT_FIELD_NUMBER: _ClassVar[int]
    FLOAT_FIELD_NUMBER: _ClassVar[int]
    STR_FIELD_NUMBER: _ClassVar[int]
    BOOL_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    DATETIME_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    INTS_FIELD_NUMBER: _ClassVar[int]
    FLOATS_FIELD_NUMBER: _ClassVar[int]
    STRS_FIELD_NUMBER: _ClassVar[int]
    MAP_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    ENUM_FIELD_NUMBER: _ClassVar[int]
    BLOB_FIELD_NUMBER: _ClassVar[int]
    PICKLE_FIELD_NUMBER: _ClassVar[int]
    OFFLOADED_FIELD_NUMBER: _ClassVar[int]
    UNION_FIELD_NUMBER: _ClassVar[int]
    DATAFRAME_FIELD_NUMBER: _ClassVar[int]
    none: bool
    int: int
    big_int: str
    float: float
    str: str
    bool: bool
    bytes: bytes
    datetime: Datetime
    date: int
    duration: int
    collection: Collection
    ints: Ints
    floats: Floats
    strs: Strs
    map: Map
    record: Record
    enum: EnumValue
    blob: Blob
    pickle: bytes
    offloaded: Offloaded
    union: UnionValue
    dataframe: DataFrameRef
    def __init__(self, none: _Optional[bool] = ..., int: _Optional[int] = ..., big_int: _Optional[str] = ..., float: _Optional[float] = ..., str: _Optional[str] = ..., bool: _Optional[bool] = ..., bytes: _Optional[bytes] = ..., datetime: _Optional[_Union[Datetime, _Mapping]] = ..., date: _Optional[int] = ..., duration: _Optional[int] = ..., collection: _Optional[_Union[Collection, _Mapping]] = ..., ints: _Optional[_Union[Ints, _Mapping]] = ..., floats: _Optional[_Union[Floats, _Mapping]] = ..., strs: _Optional[_Union[Strs, _Mapping]] = ..., map: _Optional[_Union[Map, _Mapping]] = ..., record: _Optional[_Union[Record, _Mapping]] = ..., enum: _Optional[_Union[EnumValue, _Mapping]] = ..., blob: _Optional[_Union[Blob, _Mapping]] = ..., pickle: _Optional[bytes] = ..., offloaded: _Optional[_Union[Offloaded, _Mapping]] = ..., union: _Optional[_Union[UnionValue, _Mapping]] = ..., dataframe: _Optional[_Union[DataFrameRef, _Mapping]] = ...) -> None: ...

class Datetime(_message.Message):
    __slots__ = ("micros", "naive", "utc_offset", "zone")
    MICROS_FIELD_NUMBER: _ClassVar[int]
    NAIVE_FIELD_NUMBER: _ClassVar[int]
    UTC_OFFSET_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    micros: int
    naive: bool
    utc_offset: int
    zone: str
    def __init__(self, micros: _Optional[int] = ..., naive: _Optional[bool] = ..., utc_offset: _Optional[int] = ..., zone: _Optional[str] = ...) -> None: ...

class Collection(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Literal]
    def __init__(self, items: _Optional[_Iterable[_Union[Literal, _Mapping]]] = ...) -> None: ...

class Ints(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class Floats(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class Strs(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class Map(_message.Message):
    __slots__ = ("keys", "key_literals", "values")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    KEY_LITERALS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    key_literals: _containers.RepeatedCompositeFieldContainer[Literal]
    values: _containers.RepeatedCompositeFieldContainer[Literal]
    def __init__(self, keys: _Optional[_Iterable[str]] = ..., key_literals: _Optional[_Iterable[_Union[Literal, _Mapping]]] = ..., values: _Optional[_Iterable[_Union[Literal, _Mapping]]] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("type_name", "names", "values")
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    type_name: str
    names: _containers.RepeatedScalarFieldContainer[str]
    values: _containers.RepeatedCompositeFieldContainer[Literal]
    def __init__(self, type_name: _Optional[str] = ..., names: _Optional[_Iterable[str]] = ..., values: _Optional[_Iterable[_Union[Literal, _Mapping]]] = ...) -> None: ...

class EnumValue(_message.Message):
    __slots__ = ("type_name", "name")
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    type_name: str
    name: str
    def __init__(self, type_name: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class Blob(_message.Message):
    __slots__ = ("uri", "kind", "name", "format", "hash")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        FILE: _ClassVar[Blob.Kind]
        DIR: _ClassVar[Blob.Kind]
    FILE: Blob.Kind
    DIR: Blob.Kind
    URI_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    uri: str
    kind: Blob.Kind
    name: str
    format: str
    hash: str
    def __init__(self, uri: _Optional[str] = ..., kind: _Optional[_Union[Blob.Kind, str]] = ..., name: _Optional[str] = ..., format: _Optional[str] = ..., hash: _Optional[str] = ...) -> None: ...

class DataFrameRef(_message.Message):
    __slots__ = ("uri", "format", "columns", "hash")
    URI_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    uri: str
    format: str
    columns: _containers.RepeatedCompositeFieldContainer[DataFrameColumn]
    hash: str
    def __init__(self, uri: _Optional[str] = ..., format: _Optional[str] = ..., columns: _Optional[_Iterable[_Union[DataFrameColumn, _Mapping]]] = ..., hash: _Optional[str] = ...) -> None: ...

class DataFrameColumn(_message.Message):
    __slots__ = ("name", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class Offloaded(_message.Message):
    __slots__ = ("uri", "size", "sha256")
    URI_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    uri: str
    size: int
    sha256: str
    def __init__(self, uri: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class UnionValue(_message.Message):
    __slots__ = ("index", "tag", "value")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    index: int
    tag: str
    value: Literal
    def __init__(self, index: _Optional[int] = ..., tag: _Optional[str] = ..., value: _Optional[_Union[Literal, _Mapping]] = ...) -> None: ...

class LiteralMap(_message.Message):
    __slots__ = ("literals",)
    class LiteralsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Literal
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Literal, _Mapping]] = ...) -> None: ...
    LITERALS_FIELD_NUMBER: _ClassVar[int]
    literals: _containers.MessageMap[str, Literal]
    def __init__(self, literals: _Optional[_Mapping[str, Literal]] = ...) -> None: ...
