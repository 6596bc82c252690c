"""io.DataFrame and declared frame types (pandas, pyarrow, polars when installed): parquet in
storage, read back as any frame type, declared columns, hashes, and local runs end to end."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Annotated, Any, Optional

import pytest

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

import flyte_jupyter as flyte  # noqa: E402
from flyte_jupyter._internal.runtime import storage as _storage  # noqa: E402
from flyte_jupyter._internal.types import (  # noqa: E402
    Offloader,
    from_literal,
    literal_map_hash,
    to_literal,
    to_literal_map,
)
from flyte_jupyter.errors import TypeMismatchError  # noqa: E402
from flyte_jupyter.io import PARQUET, DataFrame, HashFunction  # noqa: E402


@pytest.fixture
def raw(tmp_path: Path):
    root = tmp_path / "raw"
    _storage.set_default_raw_data_path(str(root))
    yield root
    _storage.set_default_raw_data_path(None)


def frame(n: int = 3) -> Any:
    return pd.DataFrame({"a": list(range(n)), "b": [f"r{i}" for i in range(n)], "c": [i / 2 for i in range(n)]})


def test_a_pandas_frame_round_trips_as_parquet_in_storage(raw: Path) -> None:
    df = frame()
    lit = to_literal(df, pd.DataFrame)
    ref = lit.dataframe
    assert ref.format == PARQUET and ref.uri.startswith(raw.as_uri() + "/dataframes/")
    assert pq.read_table(_storage.local_path(_storage.join(ref.uri, "00000.parquet"))).num_rows == 3
    back = from_literal(lit, pd.DataFrame)
    assert back.equals(df) and back is not df
    table = from_literal(lit, pa.Table)
    assert isinstance(table, pa.Table) and table.column_names == ["a", "b", "c"]
    wrapped = from_literal(lit, DataFrame)
    assert isinstance(wrapped, DataFrame) and wrapped.uri == ref.uri and wrapped.val is None
    assert wrapped.open(pd.DataFrame).all_sync().equals(df)


def test_equal_frames_are_stored_once_and_hash_equally(raw: Path) -> None:
    one, two = to_literal(frame(), pd.DataFrame), to_literal(frame(), pd.DataFrame)
    assert one.dataframe.uri == two.dataframe.uri, "content-addressed: equal frames, one folder"
    assert to_literal(frame(4), pd.DataFrame).dataframe.uri != one.dataframe.uri
    h = literal_map_hash(to_literal_map({"df": frame()}, {"df": pd.DataFrame}))
    assert h == literal_map_hash(to_literal_map({"df": frame()}, {"df": pd.DataFrame}))


def test_the_offloader_prefix_holds_frames_of_remote_actions(tmp_path: Path, raw: Path) -> None:
    off = Offloader((tmp_path / "outputs").as_uri())
    lit = to_literal(pa.table({"x": [1, 2]}), pa.Table, offload=off)
    assert lit.dataframe.uri.startswith(off.prefix_uri + "/dataframes/")
    assert from_literal(lit, pa.Table).column("x").to_pylist() == [1, 2]


def test_wrap_df_is_stored_once_and_keeps_its_frame(raw: Path) -> None:
    df = frame()
    w = DataFrame.wrap_df(df)
    assert w.val is df and w.uri is None and w.format == ""
    lit = to_literal(w, DataFrame)
    assert w.uri == lit.dataframe.uri and w.format == PARQUET, "the DataFrame now knows where it is"
    assert to_literal(w, DataFrame) == lit
    assert w.open(pd.DataFrame).all_sync() is df, "reading a wrapped frame as its own type is free"
    assert w.open(pa.Table).all_sync().num_rows == 3
    assert DataFrame.from_df(df).val is df
    with pytest.raises(TypeError, match="pandas DataFrame, a pyarrow Table"):
        DataFrame.wrap_df([1, 2])


def test_a_raw_frame_for_io_dataframe_is_a_clear_mismatch(raw: Path) -> None:
    with pytest.raises(TypeMismatchError, match="wrap it with flyte.io.DataFrame.wrap_df"):
        to_literal(frame(), DataFrame, name="df", task="t")
    with pytest.raises(TypeMismatchError, match="expects Table"):
        to_literal(frame(), pa.Table)
    with pytest.raises(TypeMismatchError, match="neither a frame"):
        to_literal(DataFrame(), DataFrame)


async def test_from_existing_remote_reads_files_folders_and_csv(tmp_path: Path, raw: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(pa.table({"k": [1, 2]}), folder / "part-0.parquet")
    pq.write_table(pa.table({"k": [3]}), folder / "part-1.parquet")
    (folder / "_SUCCESS").write_text("")
    df = DataFrame.from_existing_remote(folder.as_uri(), format="parquet")
    assert list((await df.open(pd.DataFrame).all())["k"]) == [1, 2, 3]
    assert [len(p) async for p in await df.open(pd.DataFrame).iter()] == [2, 1]
    single = DataFrame.from_existing_remote(str(folder / "part-1.parquet"))
    assert single.open(pa.Table).all_sync().num_rows == 1
    csv = tmp_path / "t.csv"
    csv.write_text("x,y\n1,a\n2,b\n")
    got = DataFrame.from_existing_remote(str(csv), format="csv").open(pd.DataFrame).all_sync()
    assert got.to_dict("list") == {"x": [1, 2], "y": ["a", "b"]}
    passed = from_literal(to_literal(df, DataFrame), DataFrame)
    assert passed.uri == folder.as_uri() and passed.format == "parquet", "a reference passes as it is"


def test_a_bare_local_path_is_uploaded_for_another_process(tmp_path: Path, raw: Path) -> None:
    folder = tmp_path / "frame"
    folder.mkdir()
    pq.write_table(pa.table({"v": [7]}), folder / "00000.parquet")
    off = Offloader((tmp_path / "outputs").as_uri())
    lit = to_literal(DataFrame.from_existing_remote(str(folder)), DataFrame, offload=off)
    assert lit.dataframe.uri.startswith(off.prefix_uri)
    assert from_literal(lit, pa.Table).column("v").to_pylist() == [7]


def test_declared_columns_limit_what_the_reader_gets(raw: Path) -> None:
    df = frame()
    lit = to_literal(df, Annotated[pd.DataFrame, {"a": int, "c": float}])
    assert [(c.name, c.type) for c in lit.dataframe.columns] == [("a", "int"), ("c", "float")]
    assert list(from_literal(lit, pd.DataFrame).columns) == ["a", "c"], "the sender's columns, as in Flyte"
    assert list(from_literal(lit, Annotated[pd.DataFrame, {"c": float}]).columns) == ["c"]
    cols = collections.OrderedDict(b=str)
    w = from_literal(to_literal(df, pd.DataFrame), Annotated[DataFrame, cols])
    assert w.declared_columns == ["b"] and list(w.open(pd.DataFrame).all_sync().columns) == ["b"]
    values = {"df": DataFrame.wrap_df(df)}
    to_literal_map(values, {"df": Annotated[DataFrame, {"b": str}]})
    assert values["df"].declared_columns == ["b"], "a local run's task gets the reader's view too"


def test_hash_functions_give_frames_their_cache_keys(raw: Path) -> None:
    def key(d: Any) -> str:
        return str(int(pd.util.hash_pandas_object(d, index=False).sum()))

    annotated = Annotated[pd.DataFrame, HashFunction.from_fn(key)]
    lit = to_literal(frame(), annotated)
    assert lit.dataframe.hash == key(frame())
    stored = DataFrame.from_local_sync(frame(), hash_method=HashFunction.from_fn(key))
    assert stored.hash == key(frame()) and stored.uri and stored.format == PARQUET
    assert DataFrame.from_local_sync(frame(), hash_method="k1").hash == "k1"
    # the hash, not the place, is the input: equal keys at other places are one cache entry
    a = DataFrame.from_existing_remote("file:///nowhere/a", hash="same")
    b = DataFrame.from_existing_remote("file:///nowhere/b", hash="same")
    types = {"df": DataFrame}
    assert literal_map_hash(to_literal_map({"df": a}, types)) == literal_map_hash(to_literal_map({"df": b}, types))
    # a decoded frame passed on keeps the hash it came with
    got = from_literal(lit, pd.DataFrame)
    assert to_literal(got, pd.DataFrame).dataframe.hash == key(frame())


def test_frames_inside_records_and_untyped(raw: Path) -> None:
    import dataclasses

    @dataclasses.dataclass
    class Report:
        name: str
        table: DataFrame
        extra: Optional[pd.DataFrame] = None

    r = Report("r", DataFrame.wrap_df(frame()), frame(2))
    back = from_literal(to_literal(r, Report), Report)
    assert back.name == "r" and len(back.table.open(pd.DataFrame).all_sync()) == 3 and len(back.extra) == 2
    untyped = from_literal(to_literal(DataFrame.wrap_df(frame()), Any), Any)
    assert isinstance(untyped, DataFrame) and untyped.open(pd.DataFrame).all_sync().equals(frame())


async def test_async_reading_and_errors(raw: Path) -> None:
    w = DataFrame.from_existing_remote(to_literal(frame(), pd.DataFrame).dataframe.uri)
    with pytest.raises(ValueError, match="open\\(pd.DataFrame\\)"):
        await w.all()
    assert (await w.open(pa.Table).all()).num_rows == 3
    with pytest.raises(TypeError, match="cannot open a data frame as list"):
        w.open(list)
    with pytest.raises(FileNotFoundError, match="no data frame at"):
        DataFrame.from_existing_remote("file:///nonexistent/frame.parquet").open(pd.DataFrame).all_sync()


def test_polars_when_installed(raw: Path) -> None:
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    lit = to_literal(df, pl.DataFrame)
    assert from_literal(lit, pl.DataFrame).equals(df)
    assert from_literal(lit, pd.DataFrame).to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    assert DataFrame.wrap_df(df).open(pa.Table).all_sync().num_rows == 2


env = flyte.TaskEnvironment(name="frames")


@env.task
async def make(n: int) -> pd.DataFrame:
    return frame(n)


@env.task
async def wrap(df: pd.DataFrame) -> DataFrame:
    return DataFrame.wrap_df(df)


@env.task
async def total(df: DataFrame) -> int:
    return int((await df.open(pd.DataFrame).all())["a"].sum())


@env.task(cache="auto")
async def rows(t: pa.Table) -> int:
    return t.num_rows


@env.task
async def pipeline(n: int) -> list:
    df = await make(n)
    t = pa.Table.from_pandas(df)
    return [await total(await wrap(df)), await rows(t), await rows(pa.Table.from_pandas(frame(n)))]


def test_frames_between_tasks_in_a_local_run() -> None:
    flyte.init()
    run = flyte.run(pipeline, n=4)
    assert run.outputs() == [6, 4, 4]
    hits = [a for a in run.actions.values() if a.task == "frames.rows" and a.cache_hit]
    assert len(hits) == 1, "an equal table is an equal input: the second call is a cache hit"
