"""The local builder: one cached venv per spec, its packages and env vars, and what it refuses."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import List

import pytest

from flyte_jupyter._image import Image
from flyte_jupyter._internal.imagebuild import (
    image_reference,
    resolve_image,
    resolve_images,
)
from flyte_jupyter._internal.imagebuild.cache import (
    ImageCache,
    decode_image_cache,
    encode_image_cache,
)
from flyte_jupyter._internal.imagebuild.local_venv import LocalVenvBuilder
from flyte_jupyter._internal.runtime.venv_image import runtime_for_reference
from flyte_jupyter.errors import ImageBuildError, UnsupportedImageError

from .conftest import FIXTURES, PKG_A, PKG_B


class CountingBuilder(LocalVenvBuilder):
    """The real local builder, counting how often its build step runs."""

    def __init__(self, home: Path) -> None:
        super().__init__(home=home)
        self.built: List[str] = []

    def build(self, image: Image, key: str) -> str:
        self.built.append(key)
        return super().build(image, key)


def image_a() -> Image:
    return Image.from_debian_base().with_pip_packages(PKG_A[1]).with_env_vars({"IMAGE_NAME": "a"})


def image_b() -> Image:
    return Image.from_debian_base().with_pip_packages(PKG_B[1]).with_env_vars({"IMAGE_NAME": "b"})


def _probe(reference: str, code: str) -> subprocess.CompletedProcess:
    runtime = runtime_for_reference(reference)
    assert runtime is not None
    return subprocess.run([runtime.python, "-c", code], env=runtime.environ(), capture_output=True, text=True, timeout=120)


def test_test_packages_are_not_installed_here() -> None:
    for module, _ in (PKG_A, PKG_B):
        proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, timeout=60)
        assert proc.returncode != 0, f"{module} is installed on this machine; pick another test package"


def test_two_images_each_provide_only_their_own_package(image_home: Path, cache: ImageCache) -> None:
    builder = CountingBuilder(image_home)
    mapping = resolve_images([image_a(), image_b(), "auto", image_a()], builder=builder, cache=cache)
    assert set(mapping) == {image_a().identifier, image_b().identifier}
    ref_a, ref_b = image_reference(image_a(), mapping), image_reference(image_b(), mapping)
    assert ref_a != ref_b
    assert image_reference("auto", mapping) == ""

    for ref, (own, _), (other, _), name in ((ref_a, PKG_A, PKG_B, "a"), (ref_b, PKG_B, PKG_A, "b")):
        ok = _probe(ref, f"import {own}, os, flyte_jupyter; print(os.environ['IMAGE_NAME'])")
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.strip() == name
        missing = _probe(ref, f"import {other}")
        assert missing.returncode != 0 and "ModuleNotFoundError" in missing.stderr


def test_second_resolution_builds_nothing(image_home: Path, cache: ImageCache) -> None:
    resolve_images([image_a(), image_b()], cache=cache, builder=LocalVenvBuilder(image_home))
    before = {e.key: e.builds for e in cache.entries("local")}

    builder = CountingBuilder(image_home)
    again = resolve_images([image_a(), image_b()], builder=builder, cache=cache)
    assert builder.built == []
    assert {e.key: e.builds for e in cache.entries("local")} == before
    assert cache.build_count(image_a().cache_key(), "local") == 1
    resolved = resolve_image(image_a(), builder=builder, cache=cache)
    assert resolved is not None and not resolved.built and resolved.reference == again[image_a().identifier]


def test_image_cache_mapping_survives_the_command_line(image_home: Path, cache: ImageCache) -> None:
    mapping = resolve_images([image_a()], builder=LocalVenvBuilder(image_home), cache=cache)
    decoded = decode_image_cache(encode_image_cache(mapping))
    assert runtime_for_reference(image_reference(image_a(), decoded)).env_vars == {"IMAGE_NAME": "a"}
    with pytest.raises(ImageBuildError, match="not resolved"):
        image_reference(image_b().with_env_vars({"X": "1"}), decoded)


def test_deleted_venv_is_rebuilt(fresh_home: Path) -> None:
    builder = CountingBuilder(fresh_home)
    image = Image.from_debian_base().with_env_vars({"K": "v1"})
    first = resolve_image(image, builder=builder)
    builder.remove(first.reference)
    second = resolve_image(image, builder=builder)
    assert len(builder.built) == 2 and second.built
    assert Path(second.reference, "flyte-image.json").is_file()


def test_sources_are_importable(fresh_home: Path) -> None:
    image = (
        Image.from_debian_base()
        .with_source_folder(FIXTURES / "mypkg")
        .with_source_file(FIXTURES / "helper.py")
    )
    ref = resolve_image(image, builder=LocalVenvBuilder(fresh_home)).reference
    proc = _probe(ref, "import mypkg, helper; print(mypkg.GREETING, helper.answer())")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "hello from mypkg 42"


def test_failed_build_leaves_nothing_behind(fresh_home: Path) -> None:
    builder = LocalVenvBuilder(fresh_home)
    image = Image.from_debian_base().with_pip_packages("flyte-jupyter-no-such-package-xyz", extra_args="--no-index")
    with pytest.raises(ImageBuildError, match=r"layer 0 .*pip install"):
        resolve_image(image, builder=builder)
    assert list(builder.venvs.iterdir()) == []
    assert ImageCache(fresh_home / "cache.sqlite").entries() == []


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: Image.from_debian_base().with_apt_packages("curl"), ["with_apt_packages('curl')", "system packages"]),
        (lambda: Image.from_debian_base().with_commands(["make"]), ["with_commands", "shell commands"]),
        (lambda: Image.from_base("python:3.11-slim").with_pip_packages("six"), ["custom base image", "python:3.11-slim"]),
        (lambda: Image.from_base("python:3.11-slim"), ["custom base image"]),
        (lambda: Image.from_dockerfile(FIXTURES / "custom.Dockerfile", "localhost:5000", "x"), ["Dockerfile"]),
        (lambda: Image.from_debian_base().with_source_file(FIXTURES / "helper.py", "/opt/x.py"), ["absolute destination"]),
    ],
)
def test_unsupported_specs_are_refused_naming_the_docker_builder(fresh_home: Path, make, words) -> None:
    builder = CountingBuilder(fresh_home)
    with pytest.raises(UnsupportedImageError) as err:
        resolve_images([image_a(), make()], builder=builder)
    message = str(err.value)
    for word in words:
        assert word in message
    assert "flyte-jupyter image build FILE --builder docker" in message
    assert builder.built == [], "nothing is built when any spec is refused"


def test_python_version_mismatch_is_a_clear_error(fresh_home: Path) -> None:
    other = (3, 12) if sys.version_info[:2] != (3, 12) else (3, 13)
    image = Image.from_debian_base(python_version=other)
    with pytest.raises(UnsupportedImageError, match=rf"Python {other[0]}\.{other[1]} but .* Python {sys.version_info[0]}\.{sys.version_info[1]}"):
        resolve_image(image, builder=LocalVenvBuilder(fresh_home))


def test_concurrent_resolutions_build_once(fresh_home: Path) -> None:
    script = textwrap.dedent(
        """
        import json, sys
        from flyte_jupyter._image import Image
        from flyte_jupyter._internal.imagebuild import resolve_image
        r = resolve_image(Image.from_debian_base().with_env_vars({"SAME": "spec"}), builder="local")
        print(json.dumps({"built": r.built, "ref": r.reference}))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert sum(r["built"] for r in results) == 1
    assert len({r["ref"] for r in results}) == 1
    assert ImageCache(fresh_home / "cache.sqlite").build_count() == 1
    assert LocalVenvBuilder(fresh_home).leftovers() == []


def test_a_crashed_build_is_cleaned_up_by_the_next_one(fresh_home: Path) -> None:
    builder = LocalVenvBuilder(fresh_home)
    image = Image.from_debian_base().with_env_vars({"AFTER": "crash"})
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    crashed = builder.venvs / f".tmp-{image.cache_key()[:24]}-{int(dead.stdout)}-0"
    (crashed / "bin").mkdir(parents=True)
    resolved = resolve_image(image, builder=builder)
    assert not crashed.exists()
    assert [p.name for p in builder.venvs.iterdir()] == [Path(resolved.reference).name]
