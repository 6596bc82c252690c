"""`python -m flyte_jupyter.cli ...` is `flyte-jupyter ...`."""

import sys

from flyte_jupyter.cli.main import main

sys.exit(main())
