"""flyte.io.HashFunction: a File's and a DataFrame's cache keys computed from their content."""

import hashlib
import os
import tempfile

import flyte
import pandas as pd
from flyte.io import DataFrame, File, HashFunction

env = flyte.TaskEnvironment(name="io_hash_function")


def md5(data) -> str:
    return hashlib.md5(bytes(data)).hexdigest()


def frame_key(df: pd.DataFrame) -> str:
    return str(int(pd.util.hash_pandas_object(df, index=False).sum()))


@env.task
async def keyed_file(text: str) -> File:
    folder = tempfile.mkdtemp()
    src = os.path.join(folder, "in.txt")
    with open(src, "w") as fh:
        fh.write(text)
    return await File.from_local(src, os.path.join(folder, "out.txt"), hash_method=HashFunction.from_fn(md5))


@env.task
async def keyed_frame(n: int) -> DataFrame:
    df = pd.DataFrame({"v": list(range(n))})
    return await DataFrame.from_local(df, hash_method=HashFunction.from_fn(frame_key))


@env.task
async def main(text: str, n: int) -> dict:
    f = await keyed_file(text)
    df = await keyed_frame(n)
    async with f.open("rb") as fh:
        content = bytes(await fh.read()).decode()
    return {
        "file_hash": f.hash,
        "file_hash_is_md5": f.hash == hashlib.md5(text.encode()).hexdigest(),
        "content": content,
        "frame_hash": df.hash,
        "rows": len(await df.open(pd.DataFrame).all()),
    }


INPUTS = {"text": "hello hashes", "n": 5}
EXPECT = {"file_hash": "0d729a6f50731b4b45aaf5db3d5ab31c", "file_hash_is_md5": True, "content": "hello hashes",
          "frame_hash": "13702436229068203672", "rows": 5}
