"""Every notebook runs top to bottom in the smoke preset (here through papermill where no browser can run
it; test_browser.py runs it in JupyterLab where one can), and is committed without outputs."""
import json
from pathlib import Path

import pytest

from lab_driver import browser_missing
from tools import render

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS][:2] == ["00_quickstart.ipynb", "01_synthetic_data.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_with_a_parameters_cell(path):
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in code)


# A smoke cell takes seconds (the longest, 04's study, under 2 minutes beside other tests). A kernel that
# never answers is waited out this long and then retried once, so the wait is kept short enough for
# `make test` to stay in time.
CELL_TIMEOUT_S = 180
# nbclient sometimes blocks on a cell that displays ipywidgets until the cell's timeout, then goes on
# (jupyter/nbclient#312, open; seen here in 3 of 6 runs on pytest-xdist, on 05's trace inspector): the
# cells that build an explorer or inspector (tagged `explore`, as test_render checks), seconds of work in
# smoke, get a short timeout
WIDGET_CELL_TIMEOUT_S = 45


def cell_timeout(cell) -> int:
    return WIDGET_CELL_TIMEOUT_S if render.EXPLORE_TAG in cell.metadata.get("tags", []) else CELL_TIMEOUT_S


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_smoke_preset(path, tmp_path):
    if browser_missing() is None:
        pytest.skip("run through JupyterLab's menu in a browser instead (test_browser.py)")
    papermill = pytest.importorskip("papermill")
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    out = tmp_path / path.name
    run = lambda: papermill.execute_notebook(  # noqa: E731
        str(path), str(out), parameters={"preset": "smoke"}, kernel_name="python3", cwd=str(ROOT / "notebooks"),
        progress_bar=False, execution_timeout=CELL_TIMEOUT_S, timeout_func=cell_timeout, start_timeout=120)
    try:
        run()
    except (CellTimeoutError, DeadKernelError, TimeoutError):
        # Once seen on this machine: a kernel that started and then never answered. That is the
        # Jupyter machinery, not the notebook; one retry. An error in a cell still fails at once.
        run()
    cells = json.loads(out.read_text())["cells"]
    errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
