"""A pandas frame through tasks: `-> pd.DataFrame`, wrapped in flyte.io.DataFrame, read back as
pandas and as pyarrow, and read with declared columns only."""

from typing import Annotated

import flyte
import flyte.io
import pandas as pd
import pyarrow as pa

env = flyte.TaskEnvironment(name="io_dataframe_pandas")


@env.task
async def make(n: int) -> pd.DataFrame:
    return pd.DataFrame({"a": list(range(n)), "b": [f"r{i}" for i in range(n)], "c": [i / 2 for i in range(n)]})


@env.task
async def total(df: pd.DataFrame) -> int:
    return int(df["a"].sum())


@env.task
async def wrap(df: pd.DataFrame) -> flyte.io.DataFrame:
    return flyte.io.DataFrame.wrap_df(df)


@env.task
async def read(df: flyte.io.DataFrame) -> dict:
    p = await df.open(pd.DataFrame).all()
    t = await df.open(pa.Table).all()
    return {"format": df.format, "pandas": p.to_dict("list"), "arrow_rows": t.num_rows, "arrow_cols": t.column_names}


@env.task
async def only_b(df: Annotated[flyte.io.DataFrame, {"b": str}]) -> list:
    p = await df.open(pd.DataFrame).all()
    return list(p.columns)


@env.task
async def main(n: int) -> dict:
    df = await make(n)
    w = await wrap(df)
    return {"rows": len(df), "total": await total(df), "read": await read(w), "only_b": await only_b(w)}


INPUTS = {"n": 4}
