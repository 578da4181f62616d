"""A study's cells on Ray (issue 14): a local Ray instance of 2 CPUs runs them in its own worker
processes, under the caller's run cache, and gives the serial run's results."""
import os
import sys

import pandas as pd
import pytest
import ray
import torch

from synthrl.presets import get_preset
from synthrl.studies import positive_scaling as ps
from synthrl.studies.pool import map_cells

SMOKE = get_preset("smoke")
CELLS = {"seeds": (0,), "sizes": (16, 32), "methods": ("SFT", "RFT"), "settings": ("gsm8k-like",)}
# what times the run rather than computes it, and the config's hash (the config names its workers)
TIMING_METRICS = {"train_wall_s"}
NOT_COMPUTED = ["wall_s", "created_at", "config_hash"]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    yield
    ray.shutdown()


def where_am_i(i: int) -> list[dict]:
    return [{"i": i, "pid": os.getpid(), "home": os.environ.get("SYNTHRL_HOME"), "threads": torch.get_num_threads()}]


def test_cells_run_in_ray_workers_under_the_callers_run_cache(tmp_path, monkeypatch):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # this test file is no installed module
    monkeypatch.setenv("SYNTHRL_HOME", str(tmp_path / "home"))
    rows = map_cells(where_am_i, [(i,) for i in range(4)], workers=2, desc="cells")
    assert sorted(r["i"] for r in rows) == [0, 1, 2, 3]
    assert os.getpid() not in {r["pid"] for r in rows}  # Ray's worker processes, not this one
    assert {r["home"] for r in rows} == {str(tmp_path / "home")}
    assert {r["threads"] for r in rows} == {max(1, (os.cpu_count() or 1) // 2)}
    assert ray.cluster_resources()["CPU"] == 2


def test_a_study_on_ray_gives_the_serial_runs_results(tmp_path, monkeypatch):
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // 2))  # as each Ray cell of two runs
    try:
        monkeypatch.setenv("SYNTHRL_HOME", str(tmp_path / "serial"))
        serial = ps.run(SMOKE, workers=1, **CELLS)
    finally:
        torch.set_num_threads(threads)
    monkeypatch.setenv("SYNTHRL_HOME", str(tmp_path / "ray"))  # nothing cached: Ray's workers build every cell
    on_ray = ps.run(SMOKE, workers=2, **CELLS)
    assert ray.is_initialized() and any((tmp_path / "ray").rglob("train_log.json"))  # trained on Ray

    def computed(df):
        return df[~df.metric.isin(TIMING_METRICS)].drop(columns=NOT_COMPUTED).reset_index(drop=True)

    assert len(serial) == len(on_ray) and (serial.metric == "test_error").sum() > 0
    pd.testing.assert_frame_equal(computed(serial), computed(on_ray))


def test_ray_is_refused_for_a_study_without_cells(capsys):
    from synthrl.cli import main

    assert main(["run", "q_values", "--preset", "smoke", "--ray", "auto"]) == 2
    assert "no independent cells" in capsys.readouterr().err
