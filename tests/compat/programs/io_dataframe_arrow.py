"""pyarrow tables as task values, and a parquet file a task wrote itself passed on with
DataFrame.from_existing_remote."""

import os
import tempfile

import flyte
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from flyte.io import DataFrame

env = flyte.TaskEnvironment(name="io_dataframe_arrow")


@env.task
async def table(n: int) -> pa.Table:
    return pa.table({"x": list(range(n)), "y": [float(i) * 1.5 for i in range(n)]})


@env.task
async def rows(t: pa.Table) -> int:
    return t.num_rows


@env.task
async def written(n: int) -> DataFrame:
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "part.parquet")
    pq.write_table(pa.table({"k": [f"k{i}" for i in range(n)]}), path)
    return DataFrame.from_existing_remote(path, format="parquet")


@env.task
async def keys(df: DataFrame) -> list:
    p = await df.open(pd.DataFrame).all()
    return list(p["k"])


@env.task
async def main(n: int) -> dict:
    t = await table(n)
    return {"rows": await rows(t), "y_sum": sum(t.column("y").to_pylist()), "keys": await keys(await written(n))}


INPUTS = {"n": 3}
EXPECT = {"rows": 3, "y_sum": 4.5, "keys": ["k0", "k1", "k2"]}
