"""`python -m flyte_jupyter.backend`: run the backend in the foreground."""

import sys

from flyte_jupyter.backend.server import main

sys.exit(main())
