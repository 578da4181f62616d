"""The whole pipeline once: D_syn -> pi_base -> pi_sft -> D+ -> RFT, test error of each."""
from __future__ import annotations

import time

import pandas as pd

from synthrl import pipeline
from synthrl.cache import cache_key
from synthrl.presets import Preset, get_preset, to_dict
from synthrl.results import provenance, table

STUDY = "quickstart"


def run(preset: Preset | str = "cpu") -> pd.DataFrame:
    """Tidy results: test error per model, D+ yield, training losses, with provenance."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    start = time.perf_counter()
    d_syn = pipeline.d_syn(preset)
    test = pipeline.test_problems(preset)
    base = pipeline.pi_base(preset)
    sft = pipeline.pi_sft(preset, base, d_syn)
    sampled = pipeline.samples(preset, sft, d_syn)
    plus = pipeline.d_plus(sampled, preset.sampling.positives_per_problem)
    rft = pipeline.pi_rft(preset, base, plus)

    common = {"study": STUDY, "preset": preset.name, "task": preset.task, "seed": preset.seed}
    rows = []
    # n_problems is the D_syn budget a method drew on: RFT's D+ comes from D_syn's problems
    for method, ckpt, n in (("pi_base", base, 0), ("SFT", sft, len(d_syn)), ("RFT", rft, len(d_syn))):
        metrics = pipeline.evaluate_checkpoint(preset, ckpt, test)
        rows.append({**common, "method": method, "n_problems": n, "metric": "test_error",
                     "value": metrics["test_error"]})
        if method != "pi_base":  # the finetuned policies only, to keep the demo short
            k = preset.sampling.n
            value = pipeline.evaluate_pass_at_k(preset, ckpt, test, k)[f"pass@{k}"]
            rows.append({**common, "method": method, "n_problems": n, "metric": f"pass@{k}", "value": value})
        log = pipeline.train_log(ckpt)
        rows += [{**common, "method": method, "n_problems": n, "step": s, "metric": "train_loss", "value": v}
                 for s, v in log["losses"]]
        if log["wall_s"]:
            rows.append({**common, "method": method, "n_problems": n, "metric": "train_wall_s",
                         "value": log["wall_s"]})
    n_correct = sum(r["correct"] for r in sampled)
    rows.append({**common, "method": "SFT", "n_problems": len(d_syn), "metric": "sample_accuracy",
                 "value": n_correct / len(sampled)})
    rows.append({**common, "method": "RFT", "n_problems": len(d_syn), "metric": "d_plus_size", "value": len(plus)})
    rows.append({**common, "method": "RFT", "n_problems": len(d_syn), "metric": "d_plus_problems",
                 "value": len({r["uid"] for r in plus})})
    return table(rows, provenance(cache_key(to_dict(preset)), time.perf_counter() - start))


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """The table the demo prints: test error (greedy) and pass@k, one row per model."""
    metrics = [m for m in results.metric.unique() if m == "test_error" or m.startswith("pass@")]
    table = results[results.metric.isin(metrics)].pivot_table(index="method", columns="metric", values="value")
    return table.reindex(["pi_base", "SFT", "RFT"])[metrics]
