"""RFT's spurious correlations (paper claim 4; Figs. 2c and 4), measured step by step with the exact labels.

One cell per setting and seed, on the positive-scaling cell of size `SpuriousConfig.size`: its D_syn
problems and its pi_sft, which samples `samples` solutions per problem. From them:
- Fig. 2c: D+ with up to 1, 2, 4, 8, 16 distinct positives per problem, RFT from pi_base on each (the
  positive study's budget: as many steps as SFT on the problems), the fraction of D+ with a wrong, an
  irrelevant and a spurious step, and the same fractions among each RFT model's right greedy test answers;
- the lucky-answer rate: of pi_sft's samples with a wrong step, how many still end right (1/M by chance);
- Fig. 4: RFT on four data sets of one size drawn from all of pi_sft's distinct positives: as sampled,
  cleaned by the exact labels (every step right), cleaned by estimated advantages (`credit` rollouts
  under BoK(pi_sft); no step below `advantage_threshold`), and only spurious positives.
"""
from __future__ import annotations

import dataclasses
import math
import random
import time

import pandas as pd

from synthrl import cells, pipeline, spurious, verdicts
from synthrl.cache import cache_key
from synthrl.config import Preset, Setting, to_dict
from synthrl.presets import get_preset
from synthrl.results import provenance, table

STUDY = "rft_spurious"
ARMS = ("as sampled", "clean (exact labels)", "clean (advantages)", "spurious only")


def arm_name(arm: str) -> str:
    return f"RFT, {arm}"


def fraction_rows(common: dict, method: str, labels: list[list[str]], sp: Preset, **extra) -> list[dict]:
    found = spurious.fractions(labels, sp.spurious.spurious_labels)
    return [{**common, "method": method, "metric": f"{kind}_fraction", "value": v, "n_samples": len(labels), **extra}
            for kind, v in found.items()]


def pi_sft_rows(common: dict, sp: Preset, world, by_uid: dict, sampled: list[dict]) -> list[dict]:
    """pi_sft's yield (coverage, sample accuracy), its lucky rate among samples with a wrong step, and
    chance (1/M)."""
    lucky, n_wrong = spurious.lucky_rate(spurious.step_labels(world, by_uid, sampled),
                                         [bool(r["correct"]) for r in sampled])
    rows = [{**common, "method": "pi_sft", "metric": m, "value": v, "n_samples": len(sampled)}
            for m, v in cells.yield_of(sampled).items()]
    return rows + [{**common, "method": "pi_sft", "metric": "lucky_rate", "value": lucky, "n_samples": n_wrong},
                   {**common, "method": "pi_sft", "metric": "chance_rate", "value": 1 / sp.world.max_value}]


def _rft(sp: Preset, base: str, data: list[dict], seed: int, n_sft_rows: int, test: list, world, by_test: dict,
         common: dict, method: str, **extra) -> list[dict]:
    """RFT on `data` (the positive study's budget), its greedy test error, and the spurious fractions
    of its right test answers (does RFT pass spurious steps on?)."""
    ckpt = cells.rft_checkpoint(sp, base, data, seed, n_sft_rows)
    ev = pipeline.evaluate_checkpoint(sp, ckpt, test)
    right = [{"uid": p.uid, "output": y} for p, y, c in zip(test, ev["outputs"], ev["correct"]) if c]
    rows = [{**common, "method": method, "metric": "test_error", "value": ev["test_error"], "n_samples": len(data),
             "n_test": len(test), **extra}]
    rows += fraction_rows({**common, "on": "test answers"}, method,
                           spurious.step_labels(world, by_test, right, text="output"), sp, **extra)
    return rows


def _advantage_arm(sp: Preset, sft: str, pool: list[dict], by_uid: dict, target: int, seed: int) -> tuple[list, int]:
    """Positives that no step's estimated advantage drops below the threshold, scored in a seeded order
    in chunks of `target` until `target` are kept (rollouts are the price, so only as many as needed);
    returns them and the rollouts paid."""
    cfg = sp.spurious
    order = random.Random(f"{seed}:advantages").sample(pool, len(pool))
    scored = dataclasses.replace(sp, credit=cfg.credit)
    kept, rollouts = [], 0
    for i in range(0, len(order), max(target, 1)):
        chunk = order[i:i + max(target, 1)]
        credits = pipeline.credits(scored, sft, [by_uid[r["uid"]] for r in chunk], [r["completion"] for r in chunk])
        rollouts += sum(sum(c.rollouts) for c in credits)
        kept += [r for r, keep in zip(chunk, spurious.advantage_kept(credits, cfg.advantage_threshold)) if keep]
        if len(kept) >= target:
            break
    return kept, rollouts


def pi_sft_samples(preset: Preset, setting: Setting, seed: int, base: str):
    """The cell's setting preset, D_syn's problems, SFT's rows, pi_sft (the positive cell's) and its
    `samples` samples per problem (all cached)."""
    sp = cells.setting_preset(preset, setting)
    problems = pipeline.d_syn(sp, n=preset.spurious.size, seed=seed)
    sft_rows = pipeline.sft_rows(sp, problems)
    sft = cells.finetune(sp, "pi_sft", base, sft_rows, seed, len(sft_rows))
    many = dataclasses.replace(sp, sampling=dataclasses.replace(sp.sampling, n=preset.spurious.samples))
    return sp, problems, sft_rows, sft, pipeline.samples(many, sft, problems, seed)


def labelled_positives(preset: Preset | str, setting: str, seed: int = 0) -> list[tuple]:
    """pi_sft's distinct positives in one cell, each as (problem, solution, exact step labels): what
    the notebook's viewer shows. Trains and samples what the run cache lacks."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    known = {s.name: s for s in preset.scaling.settings}
    sp, problems, _, _, sampled = pi_sft_samples(preset, known[setting], seed, cells.shared_base(preset))
    by_uid, world = {p.uid: p for p in problems}, pipeline.make_task(sp)
    pool = pipeline.d_plus(sampled, preset.spurious.samples)
    return [(by_uid[r["uid"]], r["completion"], lab)
            for r, lab in zip(pool, spurious.step_labels(world, by_uid, pool))]


def cell(preset: Preset, setting: Setting, seed: int, base: str) -> list[dict]:
    """One setting and seed: Fig. 2c's counts, the lucky-answer rate and Fig. 4's arms (see the module)."""
    cfg = preset.spurious
    sp, problems, sft_rows, sft, sampled = pi_sft_samples(preset, setting, seed, base)
    world = pipeline.make_task(sp)
    by_uid = {p.uid: p for p in problems}
    test = pipeline.test_problems(sp)
    by_test = {p.uid: p for p in test}
    common = {"setting": setting.name, "task": sp.task, "seed": seed, "n_problems": cfg.size}
    rows = [{**common, "method": "RFT", "metric": "reference_count", "value": cfg.reference_count}]  # for claims()
    rows += pi_sft_rows(common, sp, world, by_uid, sampled)
    sft_eval = pipeline.evaluate_checkpoint(sp, sft, test)
    rows.append({**common, "method": "SFT", "metric": "test_error", "value": sft_eval["test_error"],
                 "n_samples": len(sft_rows), "n_test": len(test)})
    rows += cells.solved_rows(sft_eval["correct"], common, "SFT")  # the regime gate's paired outcomes
    for k in cfg.counts:  # Fig. 2c
        plus = pipeline.d_plus(sampled, k)
        extra = {"positives_per_problem": k}
        rows += fraction_rows({**common, "on": "D+"}, "D+", spurious.step_labels(world, by_uid, plus), sp, **extra)
        rows += _rft(sp, base, plus, seed, len(sft_rows), test, world, by_test, common, "RFT", **extra)
    pool = pipeline.d_plus(sampled, cfg.samples)  # every distinct positive
    pools = spurious.label_pools(pool, spurious.step_labels(world, by_uid, pool), cfg.spurious_labels)
    target = spurious.arm_size(pools, cfg.fig4_cap)
    pools["clean (advantages)"], rollouts = _advantage_arm(sp, sft, pool, by_uid, target, seed) if target else ([], 0)
    rows.append({**common, "method": arm_name("clean (advantages)"), "metric": "rollouts", "value": rollouts})
    for arm, data in spurious.equal_arms({a: pools[a] for a in ARMS}, seed, cfg.fig4_cap).items():  # Fig. 4
        rows += fraction_rows({**common, "on": "D+"}, arm_name(arm), spurious.step_labels(world, by_uid, data), sp)
        if data:
            rows += _rft(sp, base, data, seed, len(sft_rows), test, world, by_test, common, arm_name(arm))
    return rows


def with_overrides(preset: Preset | str, settings=None, temperature=None, max_value=None, **spurious_fields) -> Preset:
    """The preset with the study's knobs replaced: the settings and pi_sft's sampling temperature (as
    the positive study's), the answer space M of every world (`max_value`: pi_base reads the amounts as
    tokens, so another M pretrains another pi_base) and any `SpuriousConfig` field (counts and seeds as
    sequences)."""
    preset = cells.with_overrides(preset, settings=settings, temperature=temperature)
    if max_value is not None:
        def m(world):
            return None if world is None else dataclasses.replace(world, max_value=max_value)

        settings = tuple(dataclasses.replace(s, world=m(s.world)) for s in preset.scaling.settings)
        preset = dataclasses.replace(preset, world=m(preset.world), scaling=dataclasses.replace(preset.scaling,
                                     settings=settings), pretrain_worlds=tuple(map(m, preset.pretrain_worlds)))
    fields = {k: tuple(v) if k in ("counts", "seeds", "spurious_labels") else v for k, v in spurious_fields.items()}
    return dataclasses.replace(preset, spurious=dataclasses.replace(preset.spurious, **fields))


def run(preset: Preset | str = "cpu", progress: bool = False, ray: str | None = None, **overrides) -> pd.DataFrame:
    """The tidy results of every setting and seed, with pi_base's rows and provenance. Each cell's rows are
    written as it finishes and a committed cell of the same config is read (`cells.run_cells`); cells run
    as the scaling study's do (`synthrl.pool`)."""
    preset = with_overrides(get_preset(preset) if isinstance(preset, str) else preset, **overrides)
    start = time.perf_counter()
    base = cells.shared_base(preset)
    seeds = preset.spurious.seeds or preset.scaling.seeds
    jobs = [(preset, s, seed, base) for s in preset.scaling.settings for seed in seeds]
    named = [(f"{s.name}__seed{seed}", cells.cell_key(STUDY, preset, s, seed, unused=("credit", "star", "negative")))
             for _, s, seed, _ in jobs]
    rows, missing = cells.run_cells(STUDY, preset, cell, jobs, named, "rft-spurious cells", progress, ray)
    rows += cells.base_rows(preset, base)
    rows = [{**r, "study": STUDY, "preset": preset.name} for r in rows]
    df = table(rows, provenance(cache_key(to_dict(preset)), time.perf_counter() - start))
    df = df.sort_values(["setting", "method", "metric", "seed"], kind="stable", ignore_index=True)
    df.attrs["missing_cells"] = missing
    return df


# ---- analysis ------------------------------------------------------------------------------------

def _errors(results: pd.DataFrame, setting: str, method: str, k: int | None = None) -> pd.Series:
    e = results[(results.setting == setting) & (results.method == method) & (results.metric == "test_error")]
    if k is not None:
        e = e[e.positives_per_problem == k]
    return e.set_index("seed")["value"]


def _paired(a: pd.Series, b: pd.Series) -> tuple[float, float, float] | None:
    """Mean of a - b over seeds, with a 95% t interval; None with fewer than two seeds."""
    from scipy import stats

    diff = (a - b).dropna()
    if len(diff) < 2:
        return None
    ci = stats.ttest_1samp(diff.to_numpy(), 0.0).confidence_interval(1 - verdicts.ALPHA)
    return float(diff.mean()), float(ci.low), float(ci.high)


def claims(results: pd.DataFrame) -> pd.DataFrame:
    """C4 per setting, each fixed before the run: more positives per problem flatten or reverse RFT's
    gains (largest count against the reference count); spurious-only RFT data is worse than clean data;
    cleaning by the exact labels and by estimated advantages each beat RFT as sampled (Fig. 4); and D+
    holds positives with wrong steps the verifier passed."""
    ref = int(results[results.metric == "reference_count"]["value"].iloc[0])  # the run's config, fixed before it ran
    counts = results["positives_per_problem"].dropna() if "positives_per_problem" in results else pd.Series([])
    top = int(counts.max()) if len(counts) else 0
    rows = []
    for setting in results.setting.dropna().unique():
        def add(claim, paper, ours, verdict):
            rows.append({"setting": setting, "claim": claim, "paper": paper, "ours": ours, "verdict": verdict})

        start = len(rows)  # every claim here is about RFT on pi_sft's samples: the regime gate applies

        stuck = verdicts.at_bound(results[(results.setting == setting) & (results.metric == "test_error")
                                          & (results.method != "pi_base")]["value"])
        judged = [(f"Fig. 2c: more positives per problem flatten or reverse RFT's gains ({top} vs {ref} per problem)",
                   _errors(results, setting, "RFT", top), _errors(results, setting, "RFT", ref), (0.0, math.inf),
                   "no lower error", f"RFT {top} - RFT {ref}")]
        for arm, other, direction in (("spurious only", "clean (exact labels)", 1), ("clean (exact labels)",
                                      "as sampled", -1), ("clean (advantages)", "as sampled", -1)):
            judged.append((f"Fig. 4: RFT on D+ {arm} has {'higher' if direction > 0 else 'lower'} error than on D+ "
                           f"{other}", _errors(results, setting, arm_name(arm)), _errors(results, setting,
                           arm_name(other)), (0.0, math.inf) if direction > 0 else (-math.inf, 0.0),
                           "higher error" if direction > 0 else "lower error", f"{arm} - {other}"))
        for claim, a, b, paper_range, paper, name in judged:
            d = _paired(a, b)
            if d is None:
                add(claim, paper, "fewer than two seeds with both arms", verdicts.NOT_TESTABLE)
                continue
            mean, lo, hi = d
            add(claim, paper, f"{name}: {mean:+.3f} [{lo:+.3f}, {hi:+.3f}] over {len((a - b).dropna())} seeds",
                verdicts.NOT_TESTABLE if stuck else verdicts.interval(lo, hi, paper_range, 0.0))
        d_plus = results[(results.setting == setting) & (results.method == "D+") & (results.metric == "wrong_fraction")
                         & (results.positives_per_problem == top)]
        n = int(d_plus["n_samples"].sum())
        hits = int(round((d_plus["value"] * d_plus["n_samples"]).sum()))
        p, lo, hi = verdicts.proportion(hits, n)
        add(f"Fig. 2c: D+ ({top} per problem) holds positives with a wrong step", "some",
            f"{p:.3f} [{lo:.3f}, {hi:.3f}] of {n} positives", verdicts.interval(lo, hi, (0.0, 1.0), 0.0)
            if n else verdicts.NOT_TESTABLE)
        # The paper's mechanism: more positives per problem admit more spurious ones, so the share grows
        low = int(counts.min()) if len(counts) else 0
        share = results[(results.setting == setting) & (results.method == "D+") & (results.metric == "wrong_fraction")]
        by_count = {k: share[share.positives_per_problem == k].set_index("seed")["value"] for k in (top, low)}
        d = _paired(by_count[top], by_count[low]) if top > low else None
        claim = (f"Fig. 2c (its mechanism): the share of D+'s positives with a wrong step grows with positives "
                 f"per problem ({top} vs {low})")
        if d is None:
            add(claim, "grows", "fewer than two seeds or one count", verdicts.NOT_TESTABLE)
        else:
            mean, lo, hi = d
            add(claim, "grows", f"{by_count[low].mean():.3f} at {low} -> {by_count[top].mean():.3f} at {top} per "
                f"problem: {mean:+.3f} [{lo:+.3f}, {hi:+.3f}] over {len((by_count[top] - by_count[low]).dropna())} "
                "seeds", verdicts.interval(lo, hi, (0.0, math.inf), 0.0))
        cells.gate_verdicts(rows, results, setting, start)
    return pd.DataFrame(rows)


def count_means(results: pd.DataFrame) -> pd.DataFrame:
    """Fig. 2c's numbers: per setting and positives per problem, RFT's mean test error, D+'s mean size,
    and D+'s and RFT's right test answers' spurious fractions (means over seeds)."""
    r = results[results.positives_per_problem.notna()] if "positives_per_problem" in results else results.iloc[:0]
    err = r[(r.method == "RFT") & (r.metric == "test_error")]
    out = err.groupby(["setting", "positives_per_problem"]).agg(
        error=("value", "mean"), sem=("value", "sem"), d_plus=("n_samples", "mean")).reset_index()
    for on, prefix in (("D+", "d_plus"), ("test answers", "rft_answers")):
        f = r[(r.on == on) & r.metric.str.endswith("_fraction")]
        wide = f.pivot_table(index=["setting", "positives_per_problem"], columns="metric", values="value").reset_index()
        wide = wide.rename(columns={f"{k}_fraction": f"{prefix} {k}" for k in spurious.KINDS})
        out = out.merge(wide, on=["setting", "positives_per_problem"], how="left")
    return out


def arm_means(results: pd.DataFrame) -> pd.DataFrame:
    """Fig. 4's numbers: per setting and arm, RFT's mean test error (+- sem), the arm's size and its
    spurious fraction."""
    names = [arm_name(a) for a in ARMS]
    r = results[results.method.isin(names)]
    err = r[r.metric == "test_error"].groupby(["setting", "method"]).agg(
        error=("value", "mean"), sem=("value", "sem"), size=("n_samples", "mean")).reset_index()
    frac = r[(r.on == "D+") & (r.metric == "spurious_fraction")].groupby(["setting", "method"])["value"].mean()
    err["spurious"] = [frac.get((s, m), float("nan")) for s, m in zip(err.setting, err.method)]
    err["order"] = err.method.map({n: i for i, n in enumerate(names)})
    return err.sort_values(["setting", "order"]).drop(columns="order").reset_index(drop=True)


def reference_errors(results: pd.DataFrame) -> pd.DataFrame:
    """pi_base's and SFT's test errors per setting (the lines Fig. 2c draws beside RFT)."""
    e = results[results.method.isin(["pi_base", "SFT"]) & (results.metric == "test_error")]
    return e.groupby(["setting", "method"])["value"].mean().reset_index()


def figures(results: pd.DataFrame) -> dict:
    """Fig. 2c (RFT's error against positives per problem, with SFT and pi_base), the spurious fractions
    of D+ and of RFT's answers, and Fig. 4 (RFT on the four data sets of equal size)."""
    from synthrl import figures as draw

    preset = str(results["preset"].iloc[0])
    counts = count_means(results)
    return {"fig2c_positives_per_problem": draw.rft_positives(counts, reference_errors(results),
                                                                f"Fig. 2c: RFT with more positives per problem, "
                                                                f"preset {preset}"),
            "rft_spurious_fractions": draw.spurious_fractions(counts, f"spurious steps in D+ and in RFT's right "
                                                                      f"answers, preset {preset}"),
            "fig4_spurious_arms": draw.rft_arms(arm_means(results), f"Fig. 4: RFT data of one size, preset {preset}")}
