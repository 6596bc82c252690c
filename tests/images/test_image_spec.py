"""The Image builder API, its two identities, and the --image-cache encoding."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from flyte_jupyter._image import Image, as_image
from flyte_jupyter._internal.imagebuild.cache import (
    ImageCache,
    decode_image_cache,
    encode_image_cache,
)
from flyte_jupyter.errors import ImageBuildError

from .conftest import FIXTURES


def test_direct_construction_is_refused() -> None:
    with pytest.raises(TypeError, match="from_debian_base"):
        Image()


def test_with_methods_return_new_images_and_keep_the_base_unchanged() -> None:
    base = Image.from_debian_base(python_version=(3, 11))
    a = base.with_pip_packages("six")
    b = base.with_pip_packages("toolz")
    assert base.layers == ()
    assert [layer.kind for layer in a.layers] == ["pip"]
    assert a.cache_key() != b.cache_key() != base.cache_key()
    assert a.with_env_vars({"X": "1"}).layers[-1].kind == "env"
    assert len(a.layers) == 1


def test_same_spec_gives_the_same_key() -> None:
    def make() -> Image:
        return (
            Image.from_debian_base(python_version=(3, 11))
            .with_pip_packages("pandas==2.2.3", index_url="https://example.invalid/simple", pre=True)
            .with_env_vars({"MODE": "prod"})
            .with_requirements(FIXTURES / "requirements.txt")
            .with_source_folder(FIXTURES / "mypkg")
        )

    assert make().cache_key() == make().cache_key()
    assert make().identifier == make().identifier
    assert make() == make()


def test_layer_order_and_options_change_the_key() -> None:
    base = Image.from_debian_base(python_version=(3, 11))
    keys = {
        base.with_pip_packages("a").with_pip_packages("b").cache_key(),
        base.with_pip_packages("b").with_pip_packages("a").cache_key(),
        base.with_pip_packages("a", "b").cache_key(),
        base.with_pip_packages("a", "b", pre=True).cache_key(),
        base.with_pip_packages("a", "b", extra_index_urls="https://example.invalid/x").cache_key(),
        Image.from_debian_base(python_version=(3, 12)).with_pip_packages("a", "b").cache_key(),
    }
    assert len(keys) == 6


def test_changed_file_content_changes_the_cache_key_but_not_the_identifier(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("six==1.16.0\n")
    folder = tmp_path / "src"
    shutil.copytree(FIXTURES / "mypkg", folder)
    image = Image.from_debian_base().with_requirements(req).with_source_folder(folder)
    key1, ident1 = image.cache_key(), image.identifier

    req.write_text("six==1.17.0\n")
    key2 = image.cache_key()
    (folder / "__init__.py").write_text("GREETING = 'changed'\n")
    key3 = image.cache_key()
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    key4 = image.cache_key()

    assert len({key1, key2, key3}) == 3
    assert key4 == key3, "bytecode caches must not change the key"
    assert image.identifier == ident1, "the identifier hashes the declaration only"


def test_file_location_does_not_change_the_cache_key(tmp_path: Path) -> None:
    for sub in ("one", "two"):
        (tmp_path / sub).mkdir()
        shutil.copy(FIXTURES / "requirements.txt", tmp_path / sub / "requirements.txt")
    one = Image.from_debian_base().with_requirements(tmp_path / "one" / "requirements.txt")
    two = Image.from_debian_base().with_requirements(tmp_path / "two" / "requirements.txt")
    assert one.cache_key() == two.cache_key()
    assert one.identifier != two.identifier


def test_missing_files_are_named() -> None:
    image = Image.from_debian_base().with_requirements("does/not/exist.txt")
    with pytest.raises(ImageBuildError, match="does/not/exist.txt"):
        image.cache_key()
    assert image.identifier  # computable anywhere, without the file


def test_from_dockerfile_is_not_extendable() -> None:
    image = Image.from_dockerfile(FIXTURES / "custom.Dockerfile", registry="localhost:5000", name="custom")
    with pytest.raises(ImageBuildError, match="Dockerfile"):
        image.with_pip_packages("six")


def test_flyte_style_arguments() -> None:
    image = (
        Image.from_debian_base(python_version=(3, 12), registry="localhost:5000", name="etl")
        .with_pip_packages("x", extra_index_urls=["https://a.invalid", "https://b.invalid"], extra_args="--no-deps")
        .with_apt_packages("curl", "git")
        .with_commands(["echo hi"])
        .with_workdir("/app")
        .with_source_folder(FIXTURES / "mypkg")
        .with_source_file(FIXTURES / "helper.py", "/app/lib/")
    )
    assert image.python_version == (3, 12)
    assert image.layers[-2].dst == "./mypkg"  # Flyte: dst "." means ./<folder name>
    assert image.uri.startswith("localhost:5000/etl:")
    assert Image.from_base("python:3.11-slim").uri == "python:3.11-slim"
    with pytest.raises(ValueError, match="python_version"):
        Image.from_debian_base(python_version=(2, 7))
    with pytest.raises(ValueError, match="image URI"):
        Image.from_base("")


def test_auto_and_strings() -> None:
    assert as_image("auto") is None
    assert as_image(None) is None
    assert as_image("python:3.11").base_image == "python:3.11"
    with pytest.raises(TypeError, match="image must be"):
        as_image(3)


def test_image_cache_encoding_round_trips() -> None:
    mapping = {"a" * 64: "/home/u/.local/share/flyte-jupyter/images/venvs/abc", "b" * 64: "reg.io/x:1234"}
    text = encode_image_cache(mapping)
    assert text.isascii() and not set(text) & set("+/= \n")
    assert decode_image_cache(text) == mapping
    assert decode_image_cache("") == {}
    assert encode_image_cache({}) == "" and decode_image_cache(encode_image_cache({})) == {}
    with pytest.raises(ValueError, match="image-cache"):
        decode_image_cache("not-an-image-cache")


def test_image_cache_records_builds(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path / "c.sqlite")
    assert cache.get("k", "local") is None
    cache.record_build("k", "local", "/venv/k", {"layers": []})
    assert cache.get("k", "local") == "/venv/k"
    assert cache.get("k", "docker") is None
    cache.record_build("k", "local", "/venv/k2", {"layers": []})
    assert cache.build_count("k", "local") == 2
    assert [e.reference for e in ImageCache(tmp_path / "c.sqlite").entries()] == ["/venv/k2"]
    assert cache.remove("k", "local") and cache.entries() == []


def test_defaulted_python_version_keeps_the_identifier_portable() -> None:
    here = (sys.version_info[0], sys.version_info[1])
    implicit, explicit = Image.from_debian_base(), Image.from_debian_base(python_version=here)
    assert implicit.python_version == here
    assert implicit.declaration()["python_version"] == "default"
    assert implicit.cache_key() == explicit.cache_key(), "same interpreter, same build"
    assert implicit.identifier != explicit.identifier


def test_flyte_features_we_lack_say_so() -> None:
    image = Image.from_debian_base()
    with pytest.raises(AttributeError, match="with_requirements"):
        image.with_uv_project("pyproject.toml")
    with pytest.raises(ImageBuildError, match="with_pip_packages"):
        Image.from_uv_script("script.py", name="x")
    with pytest.raises(ImageBuildError, match="no-such-requirements.txt"):
        image.with_requirements("no-such-requirements.txt").validate()


def test_images_pickle_and_copy() -> None:
    import copy
    import pickle

    image = Image.from_debian_base().with_pip_packages("six").with_source_folder(FIXTURES / "mypkg")
    for clone in (pickle.loads(pickle.dumps(image)), copy.deepcopy(image)):
        assert clone == image and clone.identifier == image.identifier
        assert clone.with_env_vars({"A": "1"}).layers[:-1] == image.layers


def test_a_change_to_the_installed_flyte_jupyter_changes_an_unpinned_images_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flyte_jupyter._internal.imagebuild import flyte_source

    tree = tmp_path / "src"
    shutil.copytree(Path(flyte_source.__file__).parents[3] / "flyte_jupyter", tree / "flyte_jupyter",
                    ignore=shutil.ignore_patterns("labextension", "__pycache__", "node_modules"))
    (tree / "pyproject.toml").write_text("[project]\nname = 'flyte-jupyter'\n")
    monkeypatch.setattr(flyte_source, "local_flyte_source", lambda: tree)
    flyte_source.installed_flyte_digest.cache_clear()
    image = Image.from_debian_base(python_version=(3, 11)).with_pip_packages("iso8601")
    pinned = Image.from_debian_base(python_version=(3, 11), flyte_version="0.1.0").with_pip_packages("iso8601")
    before, before_pinned = image.cache_key(), pinned.cache_key()
    assert before == Image.from_debian_base(python_version=(3, 11)).with_pip_packages("iso8601").cache_key()

    (tree / "flyte_jupyter" / "labextension").mkdir()
    (tree / "flyte_jupyter" / "labextension" / "panel.js").write_text("// not in the image")
    flyte_source.installed_flyte_digest.cache_clear()
    assert image.cache_key() == before  # the panel is not part of an image's flyte-jupyter

    entry = tree / "flyte_jupyter" / "_internal" / "runtime" / "entrypoint.py"
    entry.write_text(entry.read_text() + "\n# an SDK change\n")
    flyte_source.installed_flyte_digest.cache_clear()
    try:
        assert image.cache_key() != before  # an SDK change is a new image, no `image prune` needed
        assert pinned.cache_key() == before_pinned  # a pinned version comes from the index: unchanged
        assert image.identifier == Image.from_debian_base(python_version=(3, 11)).with_pip_packages("iso8601").identifier
    finally:
        flyte_source.installed_flyte_digest.cache_clear()
