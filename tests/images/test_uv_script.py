"""`Image.from_uv_script`: the PEP 723 block of a script names the image's dependencies.

The package the script depends on is a wheel made here (a zip with a module and its metadata),
installed with `--no-index --find-links`, so these tests need no package index.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from flyte_jupyter._image import Image, UVScript, python_satisfies, read_script_metadata
from flyte_jupyter._internal.imagebuild import resolve_image
from flyte_jupyter._internal.imagebuild.docker import dockerfile_text
from flyte_jupyter._internal.imagebuild.local_venv import LocalVenvBuilder
from flyte_jupyter._internal.runtime.venv_image import runtime_for_reference
from flyte_jupyter.errors import ImageBuildError, UnsupportedImageError

PKG = "fjuvscriptpkg"  # exists nowhere but in the wheel below


def make_wheel(folder: Path, name: str = PKG, version: str = "0.1.0", code: str = "VALUE = 42\n") -> Path:
    """A minimal pure-Python wheel: `name/__init__.py` and its dist-info."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": code.encode(),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: flyte-jupyter-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


def write_script(path: Path, dependencies: list[str], requires: str | None = ">=3.10", body: str = "print('hi')\n") -> Path:
    lines = ["#!/usr/bin/env -S uv run --script", "# /// script"]
    if requires is not None:
        lines.append(f'# requires-python = "{requires}"')
    lines.append("# dependencies = [" + ", ".join(f'"{d}"' for d in dependencies) + "]")
    lines += ["# ///", "", body]
    path.write_text("\n".join(lines))
    return path


def test_the_script_block_is_read(tmp_path: Path) -> None:
    script = write_script(tmp_path / "job.py", ["pandas>=2", "flyte>=2.0", "Flyte_Jupyter", "httpx[http2]==0.28.1"])
    meta = read_script_metadata(script)
    assert meta.dependencies == ("pandas>=2", "httpx[http2]==0.28.1"), "flyte and flyte-jupyter come with the image"
    assert meta.requires_python == ">=3.10"
    image = Image.from_uv_script(script, name="job")
    assert isinstance(image.layers[-1], UVScript) and image.debian_base and image.name == "job"
    assert image.python_default, "this interpreter satisfies >=3.10: the identifier stays portable"


def test_only_the_block_is_in_the_cache_key(tmp_path: Path) -> None:
    script = write_script(tmp_path / "job.py", ["pandas"])
    key = Image.from_uv_script(script).cache_key()
    write_script(script, ["pandas"], body="print('other code')\n")
    assert Image.from_uv_script(script).cache_key() == key, "editing the code is not a new image"
    write_script(script, ["pandas", "numpy"])
    assert Image.from_uv_script(script).cache_key() != key, "editing the dependencies is"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("print('no block')\n", "no `# /// script` block"),
        ("# /// script\n# dependencies = ['a']\n", "not closed"),
        ("# /// script\n# dependencies = [\n# ///\n", "not valid TOML"),
        ("# /// script\n# dependencies = 'a'\n# ///\n", "must be a list"),
    ],
)
def test_bad_blocks_are_named(tmp_path: Path, text: str, words: str) -> None:
    script = tmp_path / "bad.py"
    script.write_text(text)
    with pytest.raises(ImageBuildError, match=words):
        Image.from_uv_script(script)


def test_requires_python_chooses_or_refuses_the_version(tmp_path: Path) -> None:
    here = (sys.version_info[0], sys.version_info[1])
    newer = (3, here[1] + 1)
    script = write_script(tmp_path / "new.py", ["pandas"], requires=f">={newer[0]}.{newer[1]}")
    image = Image.from_uv_script(script)
    assert image.python_version == newer and not image.python_default
    assert f"FROM python:{newer[0]}.{newer[1]}-slim-bookworm" in dockerfile_text(image, "0.1.0")
    with pytest.raises(UnsupportedImageError, match=f"asks for Python {newer[0]}.{newer[1]}"):
        LocalVenvBuilder(home=tmp_path / "home").check(image)
    with pytest.raises(ImageBuildError, match="does not satisfy"):
        Image.from_uv_script(script, python_version=here)
    with pytest.raises(ImageBuildError, match="no Python from 3.10"):
        Image.from_uv_script(write_script(tmp_path / "never.py", [], requires=">=3.99"))


def test_specifiers() -> None:
    assert python_satisfies(">=3.10,<3.13", (3, 12, 1)) and not python_satisfies(">=3.10,<3.13", (3, 13, 0))
    assert python_satisfies("~=3.11", (3, 14, 0)) and not python_satisfies("~=3.11.2", (3, 12, 0))
    assert python_satisfies("==3.11.*", (3, 11, 9)) and not python_satisfies("!=3.11.*", (3, 11, 9))
    with pytest.raises(ImageBuildError, match="cannot read"):
        python_satisfies(">= three", (3, 11, 0))


def test_docker_installs_the_dependencies(tmp_path: Path) -> None:
    script = write_script(tmp_path / "job.py", ["pandas==2.2.3", "flyte"])
    image = Image.from_uv_script(script, index_url="https://example.invalid/simple", pre=True)
    text = dockerfile_text(image, "0.1.0")
    assert "RUN python -m pip install flyte-jupyter==0.1.0\n" in text
    assert text.rstrip().endswith("RUN python -m pip install --index-url https://example.invalid/simple --pre pandas==2.2.3")
    empty = Image.from_uv_script(write_script(tmp_path / "bare.py", ["flyte"]))
    assert "no dependencies beyond flyte-jupyter" in dockerfile_text(empty, "0.1.0")


def test_the_local_builder_installs_the_dependencies(tmp_path: Path, fresh_home: Path) -> None:
    wheels = make_wheel(tmp_path / "wheels").parent
    script = write_script(tmp_path / "job.py", [f"{PKG}==0.1.0"])
    image = Image.from_uv_script(script, extra_args=f"--no-index --find-links {wheels}")
    resolved = resolve_image(image, builder=LocalVenvBuilder(home=fresh_home))
    assert resolved is not None and resolved.built
    runtime = runtime_for_reference(resolved.reference)
    assert runtime is not None
    probe = subprocess.run(
        [runtime.python, "-c", f"import {PKG}, flyte_jupyter; print({PKG}.VALUE)"],
        env=runtime.environ(), capture_output=True, text=True, timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "42"
    here = subprocess.run([sys.executable, "-c", f"import {PKG}"], capture_output=True, timeout=60)
    assert here.returncode != 0, "only the image has the package"
    again = resolve_image(image, builder=LocalVenvBuilder(home=fresh_home))
    assert again is not None and not again.built and again.reference == resolved.reference
