"""`python -m flyte_jupyter.backend`: run the backend in the foreground."""

import sys

from ._server import main

sys.exit(main())
