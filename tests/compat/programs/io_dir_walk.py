"""A Dir made in one task, then downloaded, walked and listed in another."""

import os
import tempfile

import flyte
from flyte.io import Dir

env = flyte.TaskEnvironment(name="io_dir_walk")


@env.task
async def make(names: list[str]) -> Dir:
    root = os.path.join(tempfile.mkdtemp(), "tree")
    for name in names:
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(name.upper())
    return await Dir.from_local(root)


@env.task
async def inspect(d: Dir) -> dict:
    walked = sorted([f.name async for f in d.walk()])
    local = await d.download()
    on_disk = sorted(
        os.path.relpath(os.path.join(dirpath, fname), local).replace(os.sep, "/")
        for dirpath, _, fnames in os.walk(local)
        for fname in fnames
    )
    one = await d.get_file("sub/b.txt")
    async with one.open("rb") as fh:
        text = bytes(await fh.read()).decode()
    return {"walked": walked, "on_disk": on_disk, "b": text, "missing": await d.get_file("nope.txt") is None}


@env.task
async def main(names: list[str]) -> dict:
    return await inspect(await make(names))


INPUTS = {"names": ["a.txt", "sub/b.txt", "sub/deep/c.txt"]}
EXPECT = {"walked": ["a.txt", "b.txt", "c.txt"], "on_disk": ["a.txt", "sub/b.txt", "sub/deep/c.txt"], "b": "SUB/B.TXT",
          "missing": True}
