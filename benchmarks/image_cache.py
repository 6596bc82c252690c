"""Time of a first image build against a cache hit, for the local (virtualenv) builder.

    python benchmarks/image_cache.py [--package iso8601==2.1.0] [--repeat 20]

Builds into a temporary image home, so your own image cache is untouched. A cache hit is a content
hash of the spec plus one SQLite lookup; it is what every run after the first pays per environment.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flyte_jupyter._image import Image  # noqa: E402
from flyte_jupyter._internal.imagebuild import resolve_image  # noqa: E402
from flyte_jupyter._internal.imagebuild.cache import ImageCache  # noqa: E402
from flyte_jupyter._internal.imagebuild.local_venv import LocalVenvBuilder  # noqa: E402


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:9.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="iso8601==2.1.0", help="a small pip package to install")
    parser.add_argument("--repeat", type=int, default=20, help="cache hits to time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="flyte-image-bench-") as tmp:
        home = Path(tmp)
        os.environ["FLYTE_JUPYTER_IMAGE_HOME"] = str(home)
        builder, cache = LocalVenvBuilder(home), ImageCache(home / "cache.sqlite")
        specs = {
            "env vars only": Image.from_debian_base().with_env_vars({"BENCH": "1"}),
            f"pip {args.package}": Image.from_debian_base().with_pip_packages(args.package),
        }
        print(f"{'image':<28} {'first build':>12} {'cache hit (median)':>20} {'speed-up':>10}")
        for label, image in specs.items():
            started = time.perf_counter()
            first = resolve_image(image, builder=builder, cache=cache)
            build_s = time.perf_counter() - started
            assert first is not None and first.built
            hits = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                again = resolve_image(image, builder=builder, cache=cache)
                hits.append(time.perf_counter() - started)
                assert again is not None and not again.built
            hit_s = statistics.median(hits)
            print(f"{label:<28} {_ms(build_s):>12} {_ms(hit_s):>20} {build_s / hit_s:>9.0f}x")
        print(f"builds recorded: {cache.build_count()} (one per spec; hits build nothing)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
