"""A child's ValueError reaches its parent as flyte.errors.RuntimeUserError, with the original type in .code."""

import flyte
import flyte.errors

env = flyte.TaskEnvironment(name="errors_child_caught")


@env.task
async def divide(a: int, b: int) -> float:
    if b == 0:
        raise ValueError("cannot divide by zero")
    return a / b


@env.task
async def main(a: int, b: int) -> dict:
    try:
        await divide(a, b)
    except flyte.errors.RuntimeUserError as e:
        return {"code": e.code, "is_runtime_error": isinstance(e, RuntimeError),
                "is_base": isinstance(e, flyte.errors.BaseRuntimeError), "message_has_text": "zero" in str(e)}
    return {"code": None}


INPUTS = {"a": 1, "b": 0}
EXPECT = {"code": "ValueError", "is_runtime_error": True, "is_base": True, "message_has_text": True}
