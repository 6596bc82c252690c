"""`python -m flyte_jupyter.entrypoint ...`: the command line of every action.

A thin shim, so that this name (written into every action's command, pod and stored task spec)
stays stable while the implementation lives in `_internal/runtime/entrypoint.py`.
"""

import sys

from flyte_jupyter._internal.runtime.entrypoint import main

if __name__ == "__main__":
    sys.exit(main())
