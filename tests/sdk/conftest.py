import pytest


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path, monkeypatch):
    """Every test gets its own data directory (cache, local runs) and local mode."""
    import flyte_jupyter._config as config

    monkeypatch.setenv("FLYTE_JUPYTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FLYTE_JUPYTER_CONFIG", raising=False)
    monkeypatch.setattr(config, "_config", None)
    yield tmp_path / "data"
