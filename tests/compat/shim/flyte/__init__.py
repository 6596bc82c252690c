"""A stand-in `flyte` package for action processes of the conformance tests: it aliases itself (and
every `flyte.X`) to flyte_jupyter, exactly as tests/compat/run_program.py does for `--impl ours`."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
import flyte_alias  # noqa: E402  (tests/compat/flyte_alias.py)

flyte_alias.install()
import flyte_jupyter  # noqa: E402

sys.modules["flyte"] = flyte_jupyter  # what `import flyte` hands back once this file has run
