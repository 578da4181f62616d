import os

import pytest

from synthrl import quiet_libraries

quiet_libraries()


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    """Every test gets its own run cache and data folder: committed results are never touched."""
    monkeypatch.setenv("SYNTHRL_HOME", str(tmp_path / "runs"))
    monkeypatch.setenv("SYNTHRL_DATA", str(tmp_path / "data"))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    yield


@pytest.fixture(scope="module")
def module_run_home(tmp_path_factory):
    """One run cache for a whole test module: a study run once, shared by the module's tests."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SYNTHRL_HOME", str(tmp_path_factory.mktemp("runs")))
    try:
        yield
    finally:
        mp.undo()
