"""Values as an expanded action shows them: what they are at a glance, not a repr cut at 300
characters. A table shows its type, shape and first rows, an array its dtype and shape, an image
a thumbnail, a long string its start and length; anything else a short repr.

Only the kernel decodes values (it has the user's classes); a value stored too large to load for a
glance says so instead of being fetched.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from flyte_jupyter.kernel._format import esc, short_repr

STRING_CHARS = 300
HEAD_ROWS = 5
THUMBNAIL_PX = 160
MAX_LOAD_BYTES = 64 * 1024 * 1024


def _shape_text(shape: Any) -> str:
    return " × ".join(f"{n:,}" for n in shape)


def _thumbnail_png(image: Any) -> str | None:
    try:
        img = image.copy()
        img.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        buf = io.BytesIO()
        img.save(buf, format="PNG")
    except Exception:
        return None
    return base64.b64encode(buf.getvalue()).decode()


def _img(png_b64: str, what: str) -> str:
    return (f'<div><span style="opacity:.7">{esc(what)}</span><br><img class="flyte-thumbnail" '
            f'style="max-width:{THUMBNAIL_PX}px;max-height:{THUMBNAIL_PX}px" src="data:image/png;base64,{png_b64}"></div>')


def value_html(value: Any) -> str:
    """HTML for one value (escaped; tables from pandas' own escaping `to_html`)."""
    kind = type(value).__name__
    module = type(value).__module__ or ""
    try:
        if module.startswith("pandas") and kind == "DataFrame":
            head = value.head(HEAD_ROWS).to_html(max_cols=12, border=0, classes="flyte-frame")
            return (f'<div><code>DataFrame</code> <span style="opacity:.7">{_shape_text(value.shape)} '
                    f"(rows × columns)</span>{head}</div>")
        if module.startswith("pandas") and kind == "Series":
            return (f"<div><code>Series</code> <span style='opacity:.7'>{value.shape[0]:,} rows, dtype "
                    f"{esc(value.dtype)}</span><pre>{esc(value.head(HEAD_ROWS).to_string())}</pre></div>")
        if module.startswith("polars") and kind == "DataFrame":
            return (f'<div><code>polars.DataFrame</code> <span style="opacity:.7">{_shape_text(value.shape)}</span>'
                    f"<pre>{esc(str(value.head(HEAD_ROWS)))}</pre></div>")
        if module.startswith("pyarrow") and kind == "Table":
            return (f'<div><code>pyarrow.Table</code> <span style="opacity:.7">{value.num_rows:,} × '
                    f'{value.num_columns}</span><pre>{esc(str(value.slice(0, HEAD_ROWS).to_pandas()))}</pre></div>')
        if module.startswith("numpy") and kind == "ndarray":
            return (f'<div><code>ndarray</code> <span style="opacity:.7">{esc(value.dtype)}, shape '
                    f'{_shape_text(value.shape) or "()"}</span> <code>{esc(short_repr(value, 200))}</code></div>')
        if module.startswith("PIL") and hasattr(value, "thumbnail"):
            png = _thumbnail_png(value)
            if png is not None:
                return _img(png, f"image {value.size[0]}×{value.size[1]} {getattr(value, 'mode', '')}")
        if hasattr(value, "_repr_png_") and not isinstance(value, type):
            data = value._repr_png_()
            if isinstance(data, bytes):
                return _img(base64.b64encode(data).decode(), kind)
    except Exception:  # a broken value must not break the view
        pass
    if isinstance(value, (bytes, bytearray)) and bytes(value[:8]) == b"\x89PNG\r\n\x1a\n":
        return _img(base64.b64encode(bytes(value)).decode(), f"PNG image, {len(value):,} bytes")
    if isinstance(value, str) and len(value) > STRING_CHARS:
        return (f'<div><code>{esc(repr(value[:STRING_CHARS]))}…</code> '
                f'<span style="opacity:.7">({len(value):,} characters)</span></div>')
    if isinstance(value, (list, tuple, dict, set)) and len(value) > 8:
        return (f'<code>{esc(short_repr(value))}</code> <span style="opacity:.7">'
                f'({type(value).__name__} of {len(value):,})</span>')
    return f"<code>{esc(short_repr(value))}</code>"


def literal_too_big(lit: Any) -> str | None:
    """A note instead of the value, when it is stored and too big to load for a glance."""
    try:
        if lit.WhichOneof("value") == "offloaded" and lit.offloaded.size > MAX_LOAD_BYTES:
            return f"stored value of {lit.offloaded.size / 1e6:,.0f} MB: not loaded here (`run.outputs()` loads it)"
    except Exception:
        return None
    return None
