"""Sync tasks too: a sync child's failure is a RuntimeUserError in its sync parent; map collects them."""

import flyte
import flyte.errors

env = flyte.TaskEnvironment(name="errors_sync_child")


@env.task
def check(x: int) -> int:
    if x % 2:
        raise ArithmeticError(f"odd: {x}")
    return x


@env.task
def main(n: int) -> list:
    out = []
    for x in range(n):
        try:
            out.append(check(x))
        except flyte.errors.RuntimeUserError as e:
            out.append(e.code)
    mapped = [r.code if isinstance(r, flyte.errors.RuntimeUserError) else r
              for r in flyte.map(check, range(n), return_exceptions=True)]
    return [out, mapped]


INPUTS = {"n": 4}
EXPECT = [[0, "ArithmeticError", 2, "ArithmeticError"], [0, "ArithmeticError", 2, "ArithmeticError"]]
