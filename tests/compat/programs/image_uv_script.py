# /// script
# requires-python = ">=3.10"
# dependencies = ["pyyaml"]
# ///
"""An environment whose image comes from this file's PEP 723 block (Image.from_uv_script)."""

import flyte

env = flyte.TaskEnvironment(name="image_uv_script", image=flyte.Image.from_uv_script(__file__, name="image-uv-script"))


@env.task
async def main(items: list[str]) -> str:
    import yaml

    return yaml.safe_dump({"items": items}, sort_keys=True)


INPUTS = {"items": ["a", "b"]}
EXPECT = "items:\n- a\n- b\n"
