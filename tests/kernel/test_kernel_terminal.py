"""IPython in a terminal (no widget frontend): the same magics print the run as text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kernel_helpers import make_kernel_env

SCRIPT = r'''
from IPython.testing.globalipapp import start_ipython
ip = start_ipython()
ip.run_cell("%load_ext flyte_jupyter")
ip.run_cell("""
import flyte_jupyter as flyte
env = flyte.TaskEnvironment("term")
@env.task
async def square(x: int) -> int:
    return x * x
@env.task
def broken() -> int:
    return 1 // 0
""")
res = ip.run_cell("%%flyte run --local --name term-run\nimport asyncio\nsum(await asyncio.gather(*[square(i) for i in range(3)]))")
print("VALUE", res.result, ip.user_ns["_"])
res = ip.run_cell("flyte.with_runcontext(mode='local', name='term-direct').run(square, x=4)")
res = ip.run_cell("%%flyte run --local --name term-fail\nbroken()")
print("ERROR", type(res.error_in_exec).__name__)
'''


def test_terminal_ipython_prints_the_tree(tmp_path: Path) -> None:
    env = make_kernel_env(tmp_path)
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert "Run term-run (local): SUCCEEDED, 4/4 actions finished" in out
    assert "- notebook.cell [a0] SUCCEEDED" in out and "  - term.square [" in out
    assert "VALUE 5 5" in out
    assert "Run term-direct (local): SUCCEEDED, 1/1 actions finished" in out   # flyte.run(...) as text
    assert "ActionFailedError" in out and "ZeroDivisionError" in out and "return 1 // 0" in out
    assert "ERROR ActionFailedError" in out
    assert "/flyte_jupyter/" not in out
