"""Per-step credit on pi_sft's own negatives (paper Figs. 7 and 10, and a validation the paper
could not run): Monte-Carlo Q of every step prefix, checked against the arith world's exact
step labels as the number of rollouts grows."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from synthrl import cells, pipeline, verdicts
from synthrl.cache import cache_key
from synthrl.config import Preset, to_dict
from synthrl.credit import FIRST_PIT_DEFINITIONS, TraceCredit, with_pool
from synthrl.credit_validation import hits, validate
from synthrl.pairs import negative_traces
from synthrl.presets import get_preset
from synthrl.results import provenance, table
from synthrl.tasks.arith import first_wrong_step
from synthrl.tasks.base import Problem

STUDY = "q_values"
VALIDATION_METRICS = ("first_pit_agreement", "first_pit_early", "first_pit_early_irrelevant", "first_pit_late",
                      "first_pit_none", "drop_auc")


def q_rows(world, problems: list[Problem], credits: list[TraceCredit]) -> list[dict]:
    """Mean Q by step index (0 = the bare problem) and by offset from the exact first wrong step."""
    by_step: dict[int, list[float]] = {}
    by_offset: dict[int, list[float]] = {}
    for p, c in zip(problems, credits):
        pit = first_wrong_step(world.label_steps(p, "\n".join(c.steps)))
        for i, q in enumerate(c.q):
            by_step.setdefault(i, []).append(q)
            if pit is not None:  # prefix i ends with step i-1 (0-based): offset from the pit
                by_offset.setdefault(i - 1 - pit, []).append(q)
    rows = [{"metric": "q_value", "step": i, "value": float(np.mean(v)), "n_traces": len(v)}
            for i, v in sorted(by_step.items())]
    rows += [{"metric": "q_value_from_first_wrong", "step": d, "value": float(np.mean(v)), "n_traces": len(v)}
             for d, v in sorted(by_offset.items()) if -3 <= d <= 2]
    return rows


def scored_traces(preset: Preset) -> dict:
    """The study's inputs, all cached stages: pi_sft's negatives, their credit under pi_sft and
    RFT rollouts, and pi_sft's samples per problem (the pool of the Fig. 10 variant)."""
    world = pipeline.make_task(preset)
    d_syn, base, sft, sampled, _, rft = pipeline.positive_run(preset)
    problems, traces = negative_traces(world, d_syn, sampled, preset.credit.n_traces, preset.seed)
    if not traces:
        raise RuntimeError("pi_sft produced no negative trace with a labelled wrong step to score")
    pool: dict[str, list[str]] = {}
    for r in sampled:
        pool.setdefault(r["uid"], []).append(r["completion"])
    return {"world": world, "n_problems": len(d_syn), "problems": problems, "traces": traces, "pool": pool,
            "policies": {"pi_base": base, "SFT": sft},
            "credits": {"SFT": pipeline.credits(preset, sft, problems, traces),
                        "RFT": pipeline.credits(preset, rft, problems, traces)}}


def run(preset: Preset | str = "cpu") -> pd.DataFrame:
    preset = get_preset(preset) if isinstance(preset, str) else preset
    start = time.perf_counter()
    scored = scored_traces(preset)
    world, problems, pool = scored["world"], scored["problems"], scored["pool"]
    common = {"study": STUDY, "preset": preset.name, "task": preset.task, "seed": preset.seed,
              "n_problems": scored["n_problems"]}
    rows = []
    for policy, found in scored["credits"].items():
        rows += [{**common, "method": policy, **r} for r in q_rows(world, problems, found)]
    test = pipeline.test_problems(preset)
    for policy, ckpt in scored["policies"].items():  # the regime gate: SFT against pi_base on the same problems
        got = pipeline.evaluate_checkpoint(preset, ckpt, test)
        at = {**common, "n_problems": 0 if policy == "pi_base" else scored["n_problems"]}
        rows += [{**at, "method": policy, "metric": "test_error", "value": got["test_error"], "n_test": len(test)},
                 *cells.solved_rows(got["correct"], at, policy)]
    sft_credit = scored["credits"]["SFT"]
    counts = tuple(n for n in (1, 2, 4, 8, 16, 32, 64) if n <= preset.credit.n_rollouts)
    # Fig. 10 variant: pi_sft's own samples of each problem count as extra rollouts
    for estimator, found in (("rollouts", sft_credit), ("rollouts + pi_sft samples", with_pool(
            world, problems, sft_credit, pool))):
        for definition in FIRST_PIT_DEFINITIONS:
            for r in validate(world, problems, found, counts, definition).to_dict("records"):
                for metric in VALIDATION_METRICS:
                    rows.append({**common, "method": f"SFT {estimator}", "metric": metric, "value": r[metric],
                                 "n_rollouts": r["n_rollouts"], "definition": definition, "n_traces": r["traces"]})
            for n in (1, preset.credit.n_rollouts):  # per trace: the paired outcomes the claims compare
                rows += [{**common, "method": f"SFT {estimator}", "metric": "first_pit_hit", "value": float(h),
                          "n_rollouts": n, "definition": definition, "trace": i}
                         for i, h in enumerate(hits(world, problems, found, n, definition))]
    return table(rows, provenance(cache_key(to_dict(preset)), time.perf_counter() - start))


# ---- claims: the definitions and the rollout count are the config's (CreditConfig), each judged ----

PITS = {"min": "the paper's first pit (lowest Q)", "no_success": "Self-Explore's first pit (no success)",
        "max_drop": "(ours, a diagnostic) the largest Q drop"}


def _hits(results: pd.DataFrame, estimator: str, n: int, definition: str) -> list[bool]:
    rows = results[(results.metric == "first_pit_hit") & (results.method == f"SFT {estimator}")
                   & (results.n_rollouts == n) & (results.definition == definition)].sort_values("trace")
    return [bool(v) for v in rows["value"]]


def claims(results: pd.DataFrame) -> pd.DataFrame:
    """paper's claim | ours | verdict. The rollout count judged is the run's `n_rollouts` (the
    largest in the results, fixed in the preset before the run); every first-pit definition is
    judged, none picked by its result. Same-trace comparisons use McNemar (verdicts.paired)."""
    fig7 = {"claim": "Fig. 7: per-step DPO raises Q at every step; DPO only at irrelevant steps",
            "paper": "yes", "ours": "not measured: the DPO policies come with the negative-data study",
            "verdict": verdicts.NOT_TESTABLE}
    if not (results.metric == "first_pit_hit").any():  # results from before per-trace outcomes were kept
        return pd.DataFrame([{"claim": "the first pit is the first wrong step in most negatives; more rollouts "
                                       "and Fig. 10's pooling find it more often",
                              "paper": "most; better", "ours": "per-trace outcomes not recorded in these results "
                              "(a run at this kit's HEAD records them)", "verdict": verdicts.NOT_TESTABLE}, fig7])
    n_max = int(results.loc[results.metric == "first_pit_hit", "n_rollouts"].max())
    testable = not verdicts.at_bound(results[results.metric == "q_value"]["value"])  # every Q 0 (smoke)
    rows = []
    for definition, name in PITS.items():
        h = _hits(results, "rollouts", n_max, definition)
        if not h:
            continue
        frac, lo, hi = verdicts.proportion(sum(h), len(h))
        rows.append({"claim": f"{name} is the first wrong step (exact labels) in most negatives",
                     "paper": "most (> 0.5)",
                     "ours": f"{frac:.3f} [{lo:.3f}, {hi:.3f}] of {len(h)} traces, {n_max} rollouts per prefix",
                     "verdict": verdicts.interval(lo, hi, (0.5, 1.0), 0.5) if testable else verdicts.NOT_TESTABLE})
        for claim, paper, before, after in (
                ("more rollouts find it more often (1 against n per prefix)", "more is better",
                 _hits(results, "rollouts", 1, definition), h),
                ("Fig. 10: pi_sft's own samples as extra rollouts improve the estimate", "better",
                 h, _hits(results, "rollouts + pi_sft samples", n_max, definition))):
            verdict, t = verdicts.paired(before, after, +1)
            rows.append({"claim": f"{claim}, {definition} pit", "paper": paper,
                         "ours": f"{sum(before) / len(before):.3f} -> {sum(after) / len(after):.3f} "
                                 f"(McNemar: {t['c']} gained, {t['b']} lost, p = {t['p']:.3g})",
                         "verdict": verdict if testable else verdicts.NOT_TESTABLE})
    premise = _premise(results)
    if premise:  # the regime gate: pi_sft's negatives as the paper has them only where SFT beats pi_base
        rows = [{**r, "ours": f"{premise}; {r['ours']}", "verdict": verdicts.NOT_TESTABLE} for r in rows]
    return pd.DataFrame([*rows, fig7])


def _premise(results: pd.DataFrame) -> str:
    """"" when SFT is better than pi_base on the test problems (`verdicts.sft_helps`), else why not."""
    solved = results[results.metric == "solved"]
    base, sft = (cells.outcomes(solved[solved.method == m]) for m in ("pi_base", "SFT"))
    if not base or not sft:
        return cells.NO_OUTCOMES
    if verdicts.sft_helps(base, [sft]):
        return ""
    t = verdicts.mcnemar(base, sft)
    return f"SFT is not better than pi_base (McNemar: {t['c']} gained, {t['b']} lost, p = {t['p']:.3g})"


def figures(results: pd.DataFrame) -> dict:
    from synthrl import figures as draw

    return {"fig7_q_per_step": draw.q_per_step(results), "q_validation": draw.credit_validation(results)}
