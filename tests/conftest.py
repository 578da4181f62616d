import os
import sys
from pathlib import Path

# the repository's upkeep (`tools/`: generated tables, rendered pages) is tested too; it is not installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Under pytest-xdist (`make test`: one worker per core), each worker and the notebook kernels it starts
# get an equal share of the cores, so that workers do not fight over them. Set before torch is imported.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    _share = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, str(_share))

import pytest  # noqa: E402

from synthrl import quiet_libraries  # noqa: E402

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
    """One run cache and data folder for a whole test module: a study run once (its cells written to that
    folder, never to the committed data), shared by the module's tests."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SYNTHRL_HOME", str(tmp_path_factory.mktemp("runs")))
    mp.setenv("SYNTHRL_DATA", str(tmp_path_factory.mktemp("data")))
    try:
        yield
    finally:
        mp.undo()


@pytest.fixture(scope="session")
def shared_home(tmp_path_factory):
    """A folder every pytest worker of this run shares (xdist gives each worker its own basetemp under it),
    for what is built once per test run: the stand-in hub model (`standin.gsm8k_standin`)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if "PYTEST_XDIST_WORKER" in os.environ else base
