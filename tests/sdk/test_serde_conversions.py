"""Values converted to their declared type as Flyte converts task arguments: dicts for dataclasses
and pydantic models, enum values for a Literal of members; TypedDict keys that may be absent."""

from __future__ import annotations

import dataclasses
import enum
import sys
import typing
from typing import Any, Literal, Optional, TypedDict

import pytest

import flyte_jupyter as flyte
from flyte_jupyter._internal.types import from_literal, to_literal, to_literal_map
from flyte_jupyter.errors import TypeMismatchError

pydantic = pytest.importorskip("pydantic")


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


@dataclasses.dataclass
class Point:
    x: int
    y: float = 0.5
    tags: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Segment:
    start: Point
    end: Optional[Point] = None


class Settings(pydantic.BaseModel):
    name: str
    retries: int = 3
    origin: Optional[Point] = None


class Options(TypedDict, total=False):
    depth: int
    label: str


class Job(TypedDict):
    name: str
    priority: typing.NotRequired[int] if sys.version_info >= (3, 11) else int  # type: ignore[misc]


def test_a_dict_becomes_the_dataclass_with_defaults() -> None:
    values: dict[str, Any] = {"p": {"x": 1}, "s": {"start": {"x": 2, "y": 1.0}}, "ps": [{"x": 3}, Point(4)]}
    to_literal_map(values, {"p": Point, "s": Segment, "ps": list[Point]})
    assert values["p"] == Point(1, 0.5, [])
    assert values["s"] == Segment(Point(2, 1.0), None)
    assert values["ps"] == [Point(3), Point(4)]
    assert all(type(p) is Point for p in values["ps"])


def test_values_that_fit_are_left_as_they_are() -> None:
    p = Point(1)
    values = {"p": p, "n": 3}
    to_literal_map(values, {"p": Point, "n": int})
    assert values["p"] is p


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"x": "1"}, "p['x'] expects int, got str ('1')"),
        ({"y": 1.0}, "missing key 'x'"),
        ({"x": 1, "z": 2}, "unexpected key 'z'"),
    ],
)
def test_a_dict_that_does_not_fit_is_refused(value: dict, words: str) -> None:
    with pytest.raises(TypeMismatchError, match=words.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        to_literal_map({"p": value}, {"p": Point}, task="t")


def test_to_literal_converts_only_when_asked() -> None:
    with pytest.raises(TypeMismatchError, match="expects Point, got dict"):
        to_literal({"x": 1}, Point)
    assert from_literal(to_literal({"x": 1}, Point, convert=True), Point) == Point(1)


def test_a_dict_becomes_the_pydantic_model_as_pydantic_validates_it() -> None:
    values: dict[str, Any] = {"s": {"name": "job", "retries": "5", "origin": {"x": 1}}}
    to_literal_map(values, {"s": Settings})
    s = values["s"]
    assert type(s) is Settings and s.retries == 5 and s.origin == Point(1)
    with pytest.raises(TypeMismatchError, match="retries"):
        to_literal_map({"s": {"name": "job", "retries": "many"}}, {"s": Settings})


def test_a_literal_of_enum_members() -> None:
    tp = Literal[Color.RED, Color.GREEN]
    lit = to_literal(Color.GREEN, tp)
    assert lit.WhichOneof("value") == "enum", "a member travels as an enum, not as a pickle"
    assert from_literal(lit, tp) is Color.GREEN
    values: dict[str, Any] = {"c": "red"}
    to_literal_map(values, {"c": tp})
    assert values["c"] is Color.RED, "a member's value is taken as the member"
    for bad in (Color.BLUE, "blue"):
        with pytest.raises(TypeMismatchError, match="expects Literal"):
            to_literal_map({"c": bad}, {"c": tp})
    mixed = Literal[Color.RED, "other", 3]
    assert [from_literal(to_literal(v, mixed), mixed) for v in (Color.RED, "other", 3)] == [Color.RED, "other", 3]


def test_typeddict_keys_that_may_be_absent() -> None:
    for value in ({}, {"depth": 2}, {"depth": 2, "label": "x"}):
        assert from_literal(to_literal(value, Options), Options) == value
    assert from_literal(to_literal({"name": "a"}, Job), Job) == {"name": "a"}
    assert from_literal(to_literal({"name": "a", "priority": 1}, Job), Job) == {"name": "a", "priority": 1}
    with pytest.raises(TypeMismatchError, match="missing key 'name'"):
        to_literal({"priority": 1}, Job)
    with pytest.raises(TypeMismatchError, match="unexpected key 'other'"):
        to_literal({"depth": 1, "other": 2}, Options)
    with pytest.raises(TypeMismatchError, match=r"\['depth'\] expects int"):
        to_literal({"depth": "deep"}, Options)


def test_typing_extensions_markers() -> None:
    te = pytest.importorskip("typing_extensions")

    class Doc(te.TypedDict):
        title: str
        pages: te.NotRequired[int]
        author: te.Required[str]

    assert from_literal(to_literal({"title": "t", "author": "a"}, Doc), Doc) == {"title": "t", "author": "a"}
    with pytest.raises(TypeMismatchError, match="missing key 'author'"):
        to_literal({"title": "t"}, Doc)


env = flyte.TaskEnvironment(name="conversions")


@env.task
async def describe_point(p: Point) -> str:
    return f"{type(p).__name__}:{p.x}:{p.y}"


@env.task
async def describe_color(c: Literal[Color.RED, Color.GREEN]) -> str:
    return f"{type(c).__name__}.{c.name}"


@env.task
async def conversions_main() -> list:
    return [await describe_point({"x": 7}), await describe_color("green")]


def test_a_local_run_hands_the_task_the_converted_values() -> None:
    flyte.init()
    assert flyte.run(conversions_main).outputs() == ["Point:7:0.5", "Color.GREEN"]
