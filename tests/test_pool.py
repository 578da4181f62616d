"""A study's cells on Ray: a local Ray instance of 2 CPUs runs them in its own worker
processes, under the caller's run cache, and gives the serial run's results."""
import os
import sys

import pandas as pd
import pytest
import torch

ray = pytest.importorskip("ray", reason="Ray is in the ray and dev extras")

from synthrl.presets import get_preset
from synthrl.studies import positive_scaling as ps
from synthrl.pool import map_cells

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


def test_rollout_batches_on_sampler_actors_give_the_serial_q(tmp_path, monkeypatch):
    """CreditConfig.batch_traces: every rollout draws from its own stream, so the rollouts' outcomes are the
    same whether the traces run in one batch or in several, here one after another or on Ray's sampler
    actors, at any number of rows decoded together."""
    import dataclasses

    from synthrl import credit, pipeline
    from synthrl.pool import _connect
    from synthrl.config import CreditConfig
    from synthrl.tasks.arith import flip_first_operation

    preset = dataclasses.replace(SMOKE, credit=CreditConfig(n_rollouts=4, batch_traces=2))
    problems = pipeline.d_syn(preset, n=6, seed=0)
    traces = [flip_first_operation(p.solution) for p in problems]
    here = []
    real = credit.estimate_q
    monkeypatch.setattr(credit, "estimate_q", lambda *a, **k: here.append(1) or real(*a, **k))

    def run(home):
        monkeypatch.setenv("SYNTHRL_HOME", str(tmp_path / "base"))
        base = pipeline.pi_base(preset)  # built once, shared
        monkeypatch.setenv("SYNTHRL_HOME", str(tmp_path / home))
        return pipeline.credits(preset, base, problems, traces)

    ray.shutdown()
    serial = run("serial")
    assert len(here) == 3  # three batches of two traces, here
    _connect(None, 2)
    on_ray = run("ray")
    assert len(here) == 3  # none more here: the actors ran them
    assert [c.outcomes for c in on_ray] == [c.outcomes for c in serial]
    assert [c.uid for c in on_ray] == [p.uid for p in problems]
    ray.shutdown()
    preset = dataclasses.replace(SMOKE, credit=CreditConfig(n_rollouts=4, rollout_batch=3))
    whole = run("one batch of 3 rows")
    assert len(here) == 4  # one batch of every trace, here
    assert [c.outcomes for c in whole] == [c.outcomes for c in serial]
