"""The async File handle: write lines, then readline, readlines, async iteration, read(n), seek and tell."""

import flyte
from flyte.io import File

env = flyte.TaskEnvironment(name="io_file_lines")


@env.task
async def write(lines: list[str]) -> File:
    f = File.new_remote("lines.txt")
    async with f.open("wb") as fh:
        for line in lines:
            await fh.write(line.encode() + b"\n")
    return f


@env.task
async def read(f: File) -> dict:
    out: dict = {}
    async with f.open("rb") as fh:
        out["first"] = (await fh.readline()).decode()
        out["rest"] = [line.decode() for line in await fh.readlines()]
    async with f.open("rb") as fh:
        out["iterated"] = [line.decode() async for line in fh]
    async with f.open("rb") as fh:
        out["head"] = (await fh.read(3)).decode()
        out["pos"] = await fh.tell()
        await fh.seek(0)
        out["again"] = (await fh.read(5)).decode()
    return out


@env.task
async def main(lines: list[str]) -> dict:
    return await read(await write(lines))


INPUTS = {"lines": ["alpha", "beta", "gamma"]}
EXPECT = {"first": "alpha\n", "rest": ["beta\n", "gamma\n"], "iterated": ["alpha\n", "beta\n", "gamma\n"],
          "head": "alp", "pos": 3, "again": "alpha"}
