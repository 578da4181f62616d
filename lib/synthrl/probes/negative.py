"""Probe: why per-step DPO does not reach the paper's 8x at cpu scale. The study's cut and the
oracle cut are arms of the study itself; this probe moves the other knobs, one at a time
from the study's config: DPO's beta, its learning rate, pairs per problem (negatives per problem), rollouts
per step prefix, and the optimizer steps (the study trains every method for
SFT's steps).

Every arm trains per-step DPO with the paper's cut ("min") in one setting's cells of the study (`--setting`:
`gsm8k-like` first, then `math-like` by the same rule) at |D_syn| = 128 (the largest size the study runs),
seeds 0, 1, 2, from the same pi_sft and samples (the run cache's positive-scaling cells); the "study" arm
is the study's own config, re-run here.

Rule, written before the run (one size: the 30-minute study could not hold more):
- An arm **moves** per-step DPO if the 95% t-interval (2 degrees of freedom) of its paired difference
  from the "study" arm, seed by seed, excludes 0; otherwise "no change shown".
- An arm **beats SFT at 128** if its mean error is below pi_sft's at 128 (the same cells, evaluated here).
- An arm **reaches the paper's 8x** if its mean error is at or below SFT's mean at 8 x 128 = 1,024 in the
  committed positive-scaling study.
Nothing here sets the study's config: the probe explains, it does not tune.

`python -m synthrl probe negative [--setting gsm8k-like] [--preset cpu]` writes
data/results/probes/negative_knobs_SETTING__PRESET.csv.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import pandas as pd
from scipy import stats

from synthrl import cells, pipeline
from synthrl.cache import cache_key
from synthrl.config import Preset, to_dict
from synthrl.preference import DIAGNOSTICS
from synthrl.presets import get_preset
from synthrl.results import (
    load_probe,
    load_results,
    probe_path,
    provenance,
    save_probe,
    table,
)
from synthrl.studies import negative_scaling as negative

PROBE = "negative_knobs"
SETTINGS, SIZE, SEEDS, PAPER_K = ("gsm8k-like", "math-like"), 128, (0, 1, 2), 8
CUT = "min"  # the paper's first pit
# arm -> the knobs it changes (NegativeConfig fields, or the DPO config's beta and lr); our choice of
# values: a factor of about 3 each way for beta and lr, twice the pairs and the rollouts, 3x the steps
ARMS = {
    "study": {},
    "beta 0.03": {"beta": 0.03},
    "beta 0.3": {"beta": 0.3},
    "lr 3e-5": {"lr": 3e-5},
    "lr 3e-4": {"lr": 3e-4},
    "8 negatives per problem": {"negatives_per_problem": 8},
    "16 rollouts per prefix": {"n_rollouts": 16},
    "3x optimizer steps": {"steps_multiple": 3},
}


def arm_preset(preset: Preset, knobs: dict) -> Preset:
    """The preset with per-step DPO (the paper's cut) alone in the negative study, one arm's knobs set."""
    knobs = dict(knobs)
    lr = knobs.pop("lr", None)
    out = negative.with_overrides(preset, first_pits=(CUT,), methods=(), q_traces=0, **knobs)
    if lr is not None:
        out = dataclasses.replace(out, negative=dataclasses.replace(
            out.negative, dpo=dataclasses.replace(out.negative.dpo, lr=lr)))
    return out


def probe_name(setting: str) -> str:
    return f"{PROBE}_{setting}"


def run(preset_name: str, setting_name: str = SETTINGS[0]) -> pd.DataFrame:
    start = time.perf_counter()
    preset = get_preset(preset_name)
    setting = next(s for s in preset.scaling.settings if s.name == setting_name)
    base = cells.shared_base(preset)
    sp = cells.setting_preset(preset, setting)
    test = pipeline.test_problems(sp)
    method = negative.per_step_name(CUT)
    rows = []
    for seed in SEEDS:  # pi_sft at 128, the arms' common start and the "beats SFT" line
        problems = pipeline.d_syn(sp, n=SIZE, seed=seed)
        sft_rows = pipeline.sft_rows(sp, problems)
        sft = cells.finetune(sp, "pi_sft", base, sft_rows, seed, len(sft_rows))
        rows.append({"arm": "pi_sft", "method": "SFT", "seed": seed, "metric": "test_error",
                     "value": pipeline.evaluate_checkpoint(sp, sft, test)["test_error"]})
    for arm, knobs in ARMS.items():
        p = arm_preset(preset, knobs)
        for seed in SEEDS:
            cell = negative.cell(p, setting, seed, SIZE, base)
            last = max((r["step"] for r in cell if r["metric"].startswith("dpo_")), default=None)
            for r in cell:
                keep = (r["method"] == method and (r["metric"] in ("test_error", "rollouts", "sampled_tokens")
                                                   or (r["metric"].startswith("dpo_") and r["step"] == last))
                        or r["method"] == "D-" or r["metric"] == "pairs")
                if keep:
                    rows.append({"arm": arm, "method": r["method"], "seed": seed, "metric": r["metric"],
                                 "value": r["value"], "step": r.get("step")})
            rows.append({"arm": arm, "method": method, "seed": seed, "metric": "n_pairs",
                         "value": next((r["n_samples"] for r in cell if r["method"] == method
                                        and r["metric"] == "test_error"), 0)})
    rows = [{"study": PROBE, "preset": preset_name, "setting": setting_name, "n_problems": SIZE, **r} for r in rows]
    return table(rows, provenance(cache_key(to_dict(preset), probe_name(setting_name)), time.perf_counter() - start))


def sft_at(preset_name: str, setting: str, n: int) -> float:
    """SFT's mean test error at n problems in the committed positive-scaling study (the 8x line)."""
    pos = load_results("positive_scaling", preset_name)
    e = pos[(pos.setting == setting) & (pos.method == "SFT") & (pos.metric == "test_error") & (pos.n_problems == n)]
    if e.empty:
        raise ValueError(f"the committed positive-scaling study has no SFT at {n} problems in {setting}")
    return float(e["value"].mean())


def verdicts(df: pd.DataFrame, sft_8x: float) -> pd.DataFrame:
    """The rule of the docstring, one row per arm."""
    err = df[df.metric == "test_error"].pivot_table(index="seed", columns="arm", values="value")
    sft_128 = float(err["pi_sft"].mean())
    last = df[df.metric.str.startswith("dpo_")].groupby(["arm", "metric"])["value"].mean()
    pairs = df[df.metric == "n_pairs"].groupby("arm")["value"].mean()
    out = []
    for arm in ARMS:
        e = err[arm]
        row = {"arm": arm, "test_error": e.mean(), "se": e.std(ddof=1) / np.sqrt(len(e)), "pairs": pairs[arm],
               **{m: last.get((arm, f"dpo_{m}"), np.nan) for m in DIAGNOSTICS}}
        if arm != "study":
            d = (e - err["study"]).to_numpy()
            half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
            row.update(diff=d.mean(), lo=d.mean() - half, hi=d.mean() + half,
                       moves="moves it" if d.mean() - half > 0 or d.mean() + half < 0 else "no change shown")
        row.update(beats_sft_128=bool(e.mean() < sft_128), reaches_8x=bool(e.mean() <= sft_8x))
        out.append(row)
    return pd.DataFrame(out).assign(sft_128=sft_128, sft_8x=sft_8x)


def ledger(df: pd.DataFrame, preset_name: str = "cpu") -> pd.DataFrame:
    """The README's table of the probe, one block of rows per setting: `verdicts` against pi_sft at 128
    and SFT at 8 x 128 in the committed study."""
    blocks = []
    for setting, rows in df.groupby("setting", sort=False):
        v = verdicts(rows, sft_at(preset_name, setting, PAPER_K * SIZE))
        yes = lambda flags, line: [f"{'yes' if f else 'no'} ({line:.3f})" for f in flags]  # noqa: E731
        blocks.append(pd.DataFrame({
            "setting": setting, "arm": v["arm"],
            "per-step DPO (min) test error": [f"{e:.3f} ± {se:.3f}" for e, se in zip(v["test_error"], v["se"])],
            "pairs": v["pairs"].map(lambda n: f"{n:.0f}"),
            "last step: pair accuracy, margin, chosen / rejected log-ratio": [
                f"{a:.2f}, {m:+.2f}, {c:+.2f} / {r:+.2f}" for a, m, c, r in zip(
                    v["pair_accuracy"], v["reward_margin"], v["chosen_logratio"], v["rejected_logratio"])],
            "minus the study arm [95%]": ["" if pd.isna(d) else f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]: {mv}"
                                          for d, lo, hi, mv in zip(v["diff"], v["lo"], v["hi"], v["moves"])],
            f"below pi_sft at {SIZE}": yes(v["beats_sft_128"], v["sft_128"].iloc[0]),
            f"at or below SFT at {PAPER_K * SIZE:,}": yes(v["reaches_8x"], v["sft_8x"].iloc[0])}))
    return pd.concat(blocks, ignore_index=True)


def committed(preset_name: str = "cpu") -> pd.DataFrame:
    """Every setting's committed probe, in SETTINGS' order (FileNotFoundError if none is)."""
    found = [load_probe(probe_name(s), preset_name, "negative-knobs probe") for s in SETTINGS
             if probe_path(probe_name(s), preset_name).exists()]
    if not found:
        raise FileNotFoundError(f"no committed negative-knobs probe for preset {preset_name!r}")
    return pd.concat(found, ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--setting", default=SETTINGS[0], choices=SETTINGS)
    ap.add_argument("--preset", default="cpu")
    args = ap.parse_args(argv)
    df = run(args.preset, args.setting)
    print(f"wrote {save_probe(df, probe_name(args.setting), args.preset)}")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(verdicts(df, sft_at(args.preset, args.setting, PAPER_K * SIZE)).round(3).to_string(index=False))
    return 0
