"""Typed values: every supported type round-trips through the wire form, with type checks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import inspect
import subprocess
import sys
import textwrap
import typing
from pathlib import Path
from typing import Any, NamedTuple, Optional, TypedDict, Union
from zoneinfo import ZoneInfo

import pydantic
import pytest

from flyte_jupyter._internal import types as _serde
from flyte_jupyter._internal.types import (
    Offloader,
    decode_inputs,
    encode_inputs,
    from_literal,
    from_literal_map,
    literal_map_hash,
    to_literal,
    to_literal_map,
)
from flyte_jupyter._internal.wire.proto import literals_pb2
from flyte_jupyter.errors import TypeMismatchError
from flyte_jupyter.io import Dir, File

REPO = Path(__file__).resolve().parents[2]


class Color(enum.Enum):
    RED = "red"
    GREEN = 2


class Level(str, enum.Enum):
    LOW = "low"
    HIGH = "high"


class Pair(NamedTuple):
    name: str
    score: float


class Movie(TypedDict):
    title: str
    year: int


class PartialMovie(TypedDict, total=False):
    title: str
    year: int


@dataclasses.dataclass
class Point:
    x: int
    y: float = 0.0


@dataclasses.dataclass(frozen=True)
class Shape:
    name: str
    points: list[Point]
    color: Color
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    area: float = dataclasses.field(init=False, default=0.0)


@dataclasses.dataclass
class Tree:
    value: int
    children: list[Tree] = dataclasses.field(default_factory=list)


class Model(pydantic.BaseModel):
    name: str
    when: dt.datetime
    sizes: list[int] = []
    nested: Optional[Point] = None


class Outer(pydantic.BaseModel):
    inner: Model
    level: Level


class Opaque:
    """Not a dataclass: travels as a pickle."""

    def __init__(self, v: int):
        self.v = v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.v == self.v


def _shape() -> Shape:
    s = Shape("tri", [Point(0, 0.0), Point(1, 2.5)], Color.GREEN, {"k": "v"})
    object.__setattr__(s, "area", 1.25)
    return s


NOW = dt.datetime(2026, 11, 24, 2, 30, 15, 123456)

ROUND_TRIPS: list[tuple[str, Any, Any]] = [
    ("int", int, 42),
    ("int-negative", int, -(2**40)),
    ("int-big", int, 2**80),
    ("float", float, 3.25),
    ("float-inf", float, float("inf")),
    ("str", str, "héllo\n"),
    ("str-empty", str, ""),
    ("bool-true", bool, True),
    ("bool-false", bool, False),
    ("bytes", bytes, b"\x00\xffdata"),
    ("none", type(None), None),
    ("none-annotation", None, None),
    ("datetime-naive", dt.datetime, NOW),
    ("datetime-utc", dt.datetime, NOW.replace(tzinfo=dt.timezone.utc)),
    ("datetime-offset", dt.datetime, NOW.replace(tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30)))),
    ("datetime-zoneinfo", dt.datetime, NOW.replace(tzinfo=ZoneInfo("Europe/Berlin"))),
    ("datetime-min", dt.datetime, dt.datetime.min),
    ("date", dt.date, dt.date(1969, 7, 20)),
    ("timedelta", dt.timedelta, dt.timedelta(days=-3, seconds=5, microseconds=7)),
    ("list-int", list[int], [1, 2, 3]),
    ("list-int-big", list[int], [1, 2**70]),
    ("list-float", list[float], [0.5, -1.0]),
    ("list-str", list[str], ["a", "", "c"]),
    ("list-empty", list[int], []),
    ("list-bool", list[bool], [True, False]),
    ("typing-List", typing.List[int], [4, 5]),
    ("list-bare", list, [1, "a", None, Opaque(3)]),
    ("dict-str-int", dict[str, int], {"b": 1, "a": 2}),
    ("dict-int-str", dict[int, str], {3: "x", 1: "y"}),
    ("dict-tuple-key", dict[tuple[int, int], float], {(1, 2): 0.5}),
    ("dict-enum-key", dict[Color, int], {Color.RED: 1}),
    ("dict-empty", dict[str, int], {}),
    ("dict-bare", dict, {"a": 1, 2: [3]}),
    ("optional-some", Optional[int], 5),
    ("optional-none", Optional[int], None),
    ("pipe-none", int | None, None),
    ("pipe-some", str | None, "s"),
    ("union-int", Union[int, str], 7),
    ("union-str", Union[int, str], "seven"),
    ("union-records", Union[Point, Pair], Pair("p", 1.0)),
    ("union-bool-int", Union[int, bool], True),
    ("union-with-none", Union[int, str, None], None),
    ("enum", Color, Color.GREEN),
    ("str-enum", Level, Level.HIGH),
    ("tuple-fixed", tuple[int, str, float], (1, "a", 2.0)),
    ("tuple-variadic", tuple[int, ...], (1, 2, 3)),
    ("tuple-empty", tuple[()], ()),
    ("tuple-bare", tuple, (1, "x")),
    ("set-str", set[str], {"b", "a"}),
    ("frozenset-int", frozenset[int], frozenset({3, 1})),
    ("namedtuple", Pair, Pair("x", 0.5)),
    ("typeddict", Movie, {"title": "Alien", "year": 1979}),
    ("typeddict-partial", PartialMovie, {"year": 1979}),
    ("dataclass", Point, Point(1, 2.5)),
    ("dataclass-nested", Shape, _shape()),
    ("dataclass-recursive", Tree, Tree(1, [Tree(2), Tree(3, [Tree(4)])])),
    ("pydantic", Model, Model(name="m", when=NOW, sizes=[1, 2], nested=Point(3))),
    ("pydantic-nested", Outer, Outer(inner=Model(name="i", when=NOW), level=Level.LOW)),
    ("literal", typing.Literal["a", "b"], "b"),
    ("annotated", typing.Annotated[int, "meta"], 9),
    ("newtype", typing.NewType("UserId", int), 12),
    ("file", File, File("s3://bucket/data.csv", format="csv")),
    ("dir", Dir, Dir("s3://bucket/tree/")),
    ("file-generic", File["csv"], File("file:///tmp/x.csv")),
    ("any-int", Any, 5),
    ("any-object", Any, Opaque(7)),
    ("empty-annotation", inspect.Parameter.empty, {"a": [1, 2]}),
    ("pickled-class", Opaque, Opaque(1)),
    ("callable", typing.Callable[[int], int], abs),
]


@pytest.mark.parametrize(("tp", "value"), [pytest.param(t, v, id=i) for i, t, v in ROUND_TRIPS])
def test_round_trip(tp: Any, value: Any) -> None:
    lit = to_literal(value, tp)
    wire = literals_pb2.Literal.FromString(lit.SerializeToString())
    back = from_literal(wire, tp)
    assert back == value
    assert type(back) is type(value)


def test_round_trip_keeps_nested_types_and_dict_order() -> None:
    v = {"z": [Point(1)], "a": []}
    back = from_literal(to_literal(v, dict[str, list[Point]]), dict[str, list[Point]])
    assert list(back) == ["z", "a"]
    assert type(back["z"][0]) is Point
    m = Model(name="n", when=NOW.replace(tzinfo=ZoneInfo("Asia/Tokyo")), nested=Point(1))
    back_m = from_literal(to_literal(m, Model), Model)
    assert back_m.when.tzinfo == ZoneInfo("Asia/Tokyo") and type(back_m.nested) is Point
    s = from_literal(to_literal(_shape(), Shape), Shape)
    assert s.area == 1.25 and s.color is Color.GREEN


NESTED: list[tuple[str, Any, Any]] = [
    ("list-of-optional-dicts", list[Optional[dict[int, tuple[str, float]]]], [None, {1: ("a", 1.5)}, {}]),
    ("dict-of-dataclasses", dict[str, list[Point]], {"a": [Point(1)], "b": []}),
    ("dataclass-in-pydantic", Model, Model(name="x", when=NOW, nested=Point(2, 3.0))),
    ("files-in-list", list[File], [File("s3://b/1"), File("s3://b/2", name="two")]),
    ("union-of-lists", Union[list[int], list[str]], ["a", "b"]),
    ("tuple-of-records", tuple[Pair, Movie], (Pair("a", 1.0), {"title": "t", "year": 1})),
    ("dict-of-sets", dict[str, set[int]], {"a": {3, 1, 2}}),
    ("list-of-lists", list[list[float]], [[1.0], [], [2.5, 3.5]]),
]


@pytest.mark.parametrize(("tp", "value"), [pytest.param(t, v, id=i) for i, t, v in NESTED])
def test_nested_round_trip(tp: Any, value: Any) -> None:
    lit = literals_pb2.Literal.FromString(to_literal(value, tp).SerializeToString())
    assert from_literal(lit, tp) == value


def test_int_accepted_for_float_and_returned_as_float() -> None:
    assert from_literal(to_literal(3, float), float) == 3.0
    assert type(from_literal(to_literal(3, float), float)) is float
    assert from_literal(to_literal([1, 2.5], list[float]), list[float]) == [1.0, 2.5]


def test_decoding_without_a_type_reads_what_the_literal_says() -> None:
    assert from_literal(to_literal([1, 2], list[int]), Any) == [1, 2]
    assert from_literal(to_literal(Point(1, 2.0), Point), Any) == Point(1, 2.0)
    assert from_literal(to_literal(Color.RED, Color), Any) is Color.RED
    assert from_literal(to_literal({"k": dt.date(2020, 1, 1)}, dict[str, dt.date]), Any) == {"k": dt.date(2020, 1, 1)}


# ---- type errors ---------------------------------------------------------------------------


ERRORS: list[tuple[str, Any, Any, str]] = [
    ("str-for-int", int, "abc", "input 'n' of task 'hello.main' expects int, got str ('abc')"),
    ("bool-for-int", int, True, "input 'n' of task 'hello.main' expects int, got bool (True)"),
    ("float-for-int", int, 1.5, "input 'n' of task 'hello.main' expects int, got float (1.5)"),
    ("str-for-float", float, "1", "input 'n' of task 'hello.main' expects float, got str ('1')"),
    ("int-for-str", str, 1, "input 'n' of task 'hello.main' expects str, got int (1)"),
    ("none-for-int", int, None, "input 'n' of task 'hello.main' expects int, got NoneType (None)"),
    ("tuple-for-list", list[int], (1,), "input 'n' of task 'hello.main' expects list[int], got tuple ((1,))"),
    (
        "list-item",
        list[int],
        [1, "a"],
        "input 'n' of task 'hello.main' expects list[int]: n[1] expects int, got str ('a')",
    ),
    (
        "dict-value",
        dict[str, list[int]],
        {"a": [1, None]},
        "input 'n' of task 'hello.main' expects dict[str, list[int]]: n['a'][1] expects int, got NoneType (None)",
    ),
    (
        "dataclass-field",
        Shape,
        Shape("s", [Point("x")], Color.RED),
        "input 'n' of task 'hello.main' expects Shape: n.points[0].x expects int, got str ('x')",
    ),
    ("optional", Optional[int], "x", "input 'n' of task 'hello.main' expects Optional[int], got str ('x')"),
    ("union", int | str, 1.5, "input 'n' of task 'hello.main' expects int | str, got float (1.5)"),
    ("enum", Color, "red", "input 'n' of task 'hello.main' expects Color, got str ('red')"),
    ("dataclass", Point, {"x": 1}, "input 'n' of task 'hello.main' expects Point, got dict ({'x': 1})"),
    (
        "typeddict-missing",
        Movie,
        {"title": "t"},
        "input 'n' of task 'hello.main' expects Movie, got dict ({'title': 't'}) (missing key 'year')",
    ),
    ("typeddict-extra", Movie, {"title": "t", "year": 1, "x": 0}, "expects Movie, got dict"),
    ("tuple-length", tuple[int, int], (1,), "expects tuple[int, int], got tuple ((1,)) (1 items instead of 2)"),
    ("literal", typing.Literal["a", "b"], "c", "expects Literal['a', 'b'], got str ('c')"),
    ("datetime-for-date", dt.date, NOW, "expects date, got datetime"),
    ("class", Opaque, 3, "input 'n' of task 'hello.main' expects Opaque, got int (3)"),
    ("file", File, "s3://x", "expects File, got str ('s3://x')"),
]


@pytest.mark.parametrize(("tp", "value", "message"), [pytest.param(t, v, m, id=i) for i, t, v, m in ERRORS])
def test_type_errors_name_parameter_task_and_both_types(tp: Any, value: Any, message: str) -> None:
    with pytest.raises(TypeMismatchError) as info:
        to_literal(value, tp, name="n", task="hello.main")
    assert message in str(info.value)
    assert isinstance(info.value, TypeError)
    assert info.value.param == "n" and info.value.task == "hello.main"


def test_output_errors_and_long_values_are_readable() -> None:
    with pytest.raises(TypeMismatchError) as info:
        to_literal("x" * 500, int, name="o0", task="t.f", role="output")
    text = str(info.value)
    assert text.startswith("output 'o0' of task 't.f' expects int, got str ('xxx")
    assert len(text) < 150
    with pytest.raises(TypeMismatchError, match=r"^value expects int, got str"):
        to_literal("x", int)
    with pytest.raises(TypeMismatchError, match=r"^output of task 't.f' expects list\[int\]: output\[0\] expects int"):
        to_literal(["x"], list[int], name="output", task="t.f")


def test_literal_map_errors() -> None:
    types = {"data": str, "n": int}
    with pytest.raises(TypeMismatchError, match=r"^input 'n' of task 'hello.main' expects int, got str \('abc'\)$"):
        to_literal_map({"data": "d", "n": "abc"}, types, task="hello.main")
    with pytest.raises(TypeError, match="unexpected input 'm' of task 'hello.main'; declared inputs: data, n"):
        to_literal_map({"m": 1}, types, task="hello.main")


# ---- literal maps, inputs.pb, hashing -------------------------------------------------------


def test_literal_map_and_inputs_bytes_round_trip() -> None:
    types = {"data": str, "n": int, "p": Point, "when": dt.datetime}
    values = {"data": "hi", "n": 5, "p": Point(1, 2.0), "when": NOW}
    assert from_literal_map(to_literal_map(values, types), types) == values
    data = encode_inputs(values, types, task="t")
    assert isinstance(data, bytes)
    assert decode_inputs(data, types) == values
    assert decode_inputs(encode_inputs({}, {}), {}) == {}


def test_literal_map_hash_is_stable_and_order_independent() -> None:
    types = {"a": int, "b": dict[str, list[int]], "c": dict[int, str], "s": set[str]}
    one = {"a": 1, "b": {"x": [1], "y": [2]}, "c": {1: "p", 2: "q"}, "s": {"u", "v", "w"}}
    two = {"s": {"w", "v", "u"}, "c": {2: "q", 1: "p"}, "b": {"y": [2], "x": [1]}, "a": 1}
    h1 = literal_map_hash(to_literal_map(one, types))
    assert h1 == literal_map_hash(to_literal_map(two, types))
    assert len(h1) == 64 and int(h1, 16) >= 0
    changed = dict(one, b={"x": [1], "y": [3]})
    assert literal_map_hash(to_literal_map(changed, types)) != h1
    assert literal_map_hash(to_literal_map({"a": 1}, {"a": int})) != literal_map_hash(
        to_literal_map({"a": 1}, {"a": float})
    )
    # A fresh interpreter (different str hash seed) computes the same hash.
    code = textwrap.dedent(
        """
        from flyte_jupyter._internal.types import literal_map_hash, to_literal_map
        types = {"a": int, "b": dict[str, list[int]], "c": dict[int, str], "s": set[str]}
        v = {"a": 1, "b": {"y": [2], "x": [1]}, "c": {2: "q", 1: "p"}, "s": {"w", "u", "v"}}
        print(literal_map_hash(to_literal_map(v, types)))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == h1


# ---- offloading -----------------------------------------------------------------------------


def test_large_values_are_offloaded_and_read_back(tmp_path: Path) -> None:
    off = Offloader(str(tmp_path / "store"), max_inline_bytes=1024)
    assert off.prefix_uri.startswith("file://")

    big = b"x" * 5000
    lit = to_literal(big, bytes, offload=off)
    assert lit.WhichOneof("value") == "offloaded"
    assert lit.ByteSize() < 300
    stored = list((tmp_path / "store").rglob("*.pb"))
    assert len(stored) == 1 and stored[0].stat().st_size > 5000
    assert from_literal(literals_pb2.Literal.FromString(lit.SerializeToString()), bytes) == big

    rows = [Point(i, i / 2) for i in range(200)]
    lm = to_literal_map({"rows": rows, "n": 1}, {"rows": list[Point], "n": int}, offload=off)
    assert lm.literals["rows"].WhichOneof("value") == "offloaded"
    assert lm.literals["n"].WhichOneof("value") == "int"
    assert from_literal_map(lm, {"rows": list[Point], "n": int}) == {"rows": rows, "n": 1}

    obj = Opaque(1)
    obj.payload = list(range(2000))  # type: ignore[attr-defined]
    plit = to_literal(obj, Any, offload=off)
    assert plit.WhichOneof("value") == "offloaded"
    assert from_literal(plit, Any).payload == obj.payload  # type: ignore[attr-defined]

    small = to_literal(b"tiny", bytes, offload=off)
    assert small.WhichOneof("value") == "bytes"
    # The same content is stored once.
    to_literal(big, bytes, offload=off)
    assert len(list((tmp_path / "store").rglob("*.pb"))) == 3


def test_offloaded_value_missing_from_storage_says_so(tmp_path: Path) -> None:
    off = Offloader(tmp_path.as_uri(), max_inline_bytes=10)
    lit = to_literal("y" * 100, str, offload=off)
    for p in tmp_path.rglob("*.pb"):
        p.unlink()
    with pytest.raises(FileNotFoundError, match="missing from storage"):
        from_literal(lit, str)


def test_local_files_are_uploaded_when_offloading(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("payload")
    d = tmp_path / "tree"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "a.txt").write_text("A")
    off = Offloader((tmp_path / "store").as_uri())
    types = {"f": File, "d": Dir}
    lm = to_literal_map({"f": File(str(src)), "d": Dir(str(d))}, types, offload=off)
    out = from_literal_map(lm, types)
    assert out["f"].path.startswith((tmp_path / "store").as_uri())
    assert out["f"].name == "in.txt"
    src.unlink()  # the reference no longer depends on the original
    with out["f"].open_sync("r") as fh:
        assert fh.read() == "payload"
    assert [f.name for f in out["d"].walk_sync()] == ["a.txt"]
    # Without an offloader (in-process local mode) the path is kept as is.
    assert from_literal(to_literal(File(str(d / "sub" / "a.txt")), File), File).path == str(d / "sub" / "a.txt")


def test_converters_are_cached_per_type() -> None:
    assert _serde._conv(list[int]) is _serde._conv(list[int])
    assert _serde._conv(Point) is _serde._conv(Point)


class Aliased(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")
    x: int = pydantic.Field(alias="X")
    y: typing.Annotated[int, pydantic.Field(gt=0)] = 1


@dataclasses.dataclass
class Derived:
    x: int
    offset: dataclasses.InitVar[int] = 0
    total: int = dataclasses.field(init=False, default=0)
    calls: typing.ClassVar[list[int]] = []

    def __post_init__(self, offset: int) -> None:
        self.total = self.x + offset
        Derived.calls.append(self.x)


def test_records_are_restored_as_they_were() -> None:
    a = Aliased(X=3, y=2, note="extra")
    back = from_literal(to_literal(a, Aliased), Aliased)
    assert back == a and back.model_extra == {"note": "extra"}

    d = Derived(1, offset=5)
    Derived.calls.clear()
    back_d = from_literal(to_literal(d, Derived), Derived)
    assert back_d.total == 6 and back_d == d
    assert Derived.calls == []  # __post_init__ is not run again on the receiving side


def test_values_written_in_one_process_are_read_in_another(tmp_path: Path) -> None:
    """What remote mode does: inputs.pb (with offloaded parts) written here, read in a fresh
    interpreter that only knows the types."""
    off = Offloader(tmp_path.as_uri(), max_inline_bytes=256)
    src = tmp_path / "f.txt"
    src.write_text("file content")
    scale = 3
    types = {"when": dict[str, list[dt.datetime]], "blob": bytes, "f": File, "fn": Any}
    values = {
        "when": {"b": [NOW.replace(tzinfo=ZoneInfo("America/New_York"))], "a": []},
        "blob": bytes(range(256)) * 4,
        "f": File(str(src)),
        "fn": lambda v: v * scale,  # a closure from this test: cloudpickled by value
    }
    data = encode_inputs(values, types, offload=off)
    (tmp_path / "inputs.pb").write_bytes(data)
    assert literals_pb2.LiteralMap.FromString(data).literals["blob"].WhichOneof("value") == "offloaded"
    code = textwrap.dedent(
        f"""
        import datetime as dt
        from typing import Any
        from pathlib import Path
        from flyte_jupyter._internal.types import decode_inputs
        from flyte_jupyter.io import File
        types = {{"when": dict[str, list[dt.datetime]], "blob": bytes, "f": File, "fn": Any}}
        v = decode_inputs(Path({str(tmp_path / "inputs.pb")!r}).read_bytes(), types)
        print(list(v["when"]), v["when"]["b"][0].isoformat(), v["when"]["b"][0].tzinfo)
        print(len(v["blob"]), v["blob"][:3] == bytes([0, 1, 2]))
        with v["f"].open_sync("r") as fh:
            print(fh.read(), v["fn"](14))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "['b', 'a'] 2026-11-24T02:30:15.123456-05:00 America/New_York",
        "1024 True",
        "file content 42",
    ]
