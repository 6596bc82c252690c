"""flyte.storage: put a local file, check it exists, get it back, stream bytes in and out."""

import os
import tempfile

import flyte
import flyte.storage

env = flyte.TaskEnvironment(name="storage_roundtrip")


@env.task
async def main(text: str) -> dict:
    local = os.path.join(tempfile.mkdtemp(), "note.txt")
    with open(local, "w") as fh:
        fh.write(text)
    remote = await flyte.storage.put(local)
    exists = await flyte.storage.exists(remote)
    missing = await flyte.storage.exists(remote + ".nope")
    back = await flyte.storage.get(remote)
    with open(back) as fh:
        round_tripped = fh.read()
    streamed = await flyte.storage.put_stream(text.encode() * 3, name="streamed.bin")
    chunks = [c async for c in flyte.storage.get_stream(streamed, chunk_size=4)]
    return {"exists": exists, "missing": missing, "same": round_tripped == text,
            "kept_name": os.path.basename(back) == "note.txt", "stream": b"".join(chunks).decode(),
            "sync_exists": flyte.storage.exists_sync(streamed)}


INPUTS = {"text": "hello"}
EXPECT = {"exists": True, "missing": False, "same": True, "kept_name": True, "stream": "hellohellohello",
          "sync_exists": True}
