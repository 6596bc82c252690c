from __future__ import annotations

from pathlib import Path

import pytest
from kernel_helpers import make_kernel_env


@pytest.fixture
def kernel_env(tmp_path: Path) -> dict[str, str]:
    return make_kernel_env(tmp_path)
