"""Every kind of value that lives in storage: a File and a Dir written by a child, an offloaded
value (over 10 MiB), a report, and outputs read back by the parent."""

import asyncio
import os
import tempfile

import flyte_jupyter as flyte
from flyte_jupyter.io import Dir, File

env = flyte.TaskEnvironment(name="objects")


@env.task
async def make_file(text: str) -> File:
    path = os.path.join(tempfile.mkdtemp(), "note.txt")
    with open(path, "w") as fh:
        fh.write(text)
    return await File.from_local(path)


@env.task
async def make_dir(n: int) -> Dir:
    root = tempfile.mkdtemp()
    for i in range(n):
        with open(os.path.join(root, f"part{i}.txt"), "w") as fh:
            fh.write(f"part {i}")
    return await Dir.from_local(root)


@env.task
def big(n_bytes: int) -> bytes:
    return b"x" * n_bytes


@env.task(report=True)
async def main(text: str, parts: int, n_bytes: int) -> tuple[str, list[str], int, File]:
    f, d, blob = await asyncio.gather(make_file(text), make_dir(parts), big.aio(n_bytes))
    async with f.open("rb") as fh:
        read = (await fh.read()).decode()
    local = await d.download()
    names = sorted(os.listdir(local))
    await flyte.report.log.aio(f"<b>{len(names)} parts</b>")
    print(f"main read {len(names)} parts")
    return read, names, len(blob), f
