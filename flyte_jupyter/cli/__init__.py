"""The `flyte-jupyter` command line: `main` builds the parser from one module per command group."""

from flyte_jupyter.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
