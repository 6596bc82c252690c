"""Resource quantities as Kubernetes writes them ("500m" cores, "2Gi" bytes): parsed by the SDK
when a task is declared and by the backend when it checks a spec against platform limits."""

from __future__ import annotations

import re
from typing import Union

_MEMORY_UNITS = {
    "": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
    "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40,
}
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$")


def parse_memory(value: Union[str, int, float, None]) -> int | None:
    """Bytes from a Kubernetes-style quantity ("250Mi", "1Gi", "500M", 1024)."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    m = _QUANTITY.match(value)
    unit = m.group(2).lower() if m else None
    if not m or unit not in _MEMORY_UNITS:
        raise ValueError(
            f"memory {value!r} is not a quantity Flyte understands; use e.g. '512Mi', '2Gi' or a number of bytes"
        )
    return int(float(m.group(1)) * _MEMORY_UNITS[unit])


def parse_cpu(value: Union[str, int, float, None]) -> float | None:
    """Cores from a number or a Kubernetes-style quantity ("500m", "2")."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    m = _QUANTITY.match(value)
    if not m or m.group(2) not in ("", "m"):
        raise ValueError(f"cpu {value!r} is not a quantity Flyte understands; use e.g. 2, 0.5 or '500m'")
    number = float(m.group(1))
    return number / 1000 if m.group(2) == "m" else number


def format_memory(num_bytes: int) -> str:
    """The shortest exact binary quantity, as Flyte prints limits ("4Gi", "1536Mi")."""
    for unit in ("Ti", "Gi", "Mi", "Ki"):
        size = _MEMORY_UNITS[unit.lower()]
        if num_bytes % size == 0:
            return f"{num_bytes // size}{unit}"
    return str(num_bytes)
