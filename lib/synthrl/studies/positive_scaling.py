"""Positive-data scaling (paper Figs. 2a/2b, 3, 9): SFT on D_syn and RFT on pi_sft's own correct
samples at several |D_syn|, seeds and two difficulty settings.

Each cell (setting, seed, size) is one chain D_syn -> SFT -> samples -> D+ -> RFT (and RFT on one
positive per problem, "RFT-1"), every stage cached; cells are independent, so they run as Ray
tasks (`synthrl.pool`). The analysis fits power laws, estimates RFT's k-fold data efficiency over
SFT with a bootstrap over seeds, and computes the verdicts of the claims table.
"""
from __future__ import annotations

import dataclasses
import math
import random
import time

import pandas as pd
from scipy import stats

from synthrl import cells, pipeline, verdicts
from synthrl.cache import cache_key
from synthrl.config import Preset, ScalingConfig, Setting, to_dict
from synthrl.presets import get_preset
from synthrl.results import provenance, table

STUDY = "positive_scaling"
METHODS = ("SFT", "RFT", "RFT-epochs", "RFT-1")
PAPER_ALPHA = (0.05, 0.15)  # paper.md, claim 1: exponents of about 0.15 and 0.05
UNUSED = ("credit", "star", "negative", "spurious")  # the Preset configs a cell never reads (`cells.cell_key`)


def cell(preset: Preset, setting: Setting, seed: int, size: int, base: str, score_nll: bool) -> list[dict]:
    """One chain at one size and seed: the test error of SFT, RFT (at SFT's optimizer steps, the preset's
    `rft_steps`), RFT-epochs (RFT trained for the study's epochs over its own D+, as SFT is over D_syn: the
    paper's setting) and RFT-1, SFT's outcome on each test problem, D+'s yield, and (if `score_nll`) the
    per-token NLL of D_syn and D+ solutions under pi_base (Fig. 3)."""
    sp = cells.setting_preset(preset, setting)
    problems = pipeline.d_syn(sp, n=size, seed=seed)
    test = pipeline.test_problems(sp)
    sft_rows = pipeline.sft_rows(sp, problems)
    sft = cells.finetune(sp, "pi_sft", base, sft_rows, seed, len(sft_rows))
    common = {"setting": setting.name, "task": sp.task, "seed": seed, "n_problems": size}
    if preset.scaling.methods == ("SFT",):  # a size of `sft_sizes`: SFT's range only
        return _method_rows(sp, base, test, {"SFT": sft_rows}, sft, seed, common)
    sampled = pipeline.samples(sp, sft, problems, seed)
    plus = pipeline.d_plus(sampled, sp.sampling.positives_per_problem)
    datasets = {"SFT": sft_rows, "RFT": plus, "RFT-epochs": plus, "RFT-1": pipeline.d_plus(sampled, 1)}
    datasets = {m: d for m, d in datasets.items() if m in preset.scaling.methods}
    rows = _method_rows(sp, base, test, datasets, sft, seed, common)
    rows += [{**common, "method": "pi_sft", "metric": m, "value": v, "n_samples": len(sampled)}
             for m, v in cells.yield_of(sampled).items()]
    rows.append({**common, "method": "RFT", "metric": "d_plus_problems", "value": len({r["uid"] for r in plus})})
    if score_nll:
        for name, data in (("D_syn", sft_rows), ("D+", plus)):
            chosen = random.Random(seed).sample(data, min(preset.scaling.nll_samples, len(data)))
            for i, nll in enumerate(pipeline.nll_under(sp, base, chosen)):
                rows.append({**common, "method": name, "metric": "nll_per_token", "value": nll, "sample": i})
    return rows


def _method_rows(sp: Preset, base: str, test: list, datasets: dict, sft: str, seed: int, common: dict) -> list[dict]:
    """Each method's test error and training time (RFT's arms trained here from pi_base on their data, at the
    budget `cells.rft_checkpoint` gives beside SFT's `datasets["SFT"]`), and SFT's outcome per test problem."""
    rows = []
    for method, data in datasets.items():
        budget = dataclasses.replace(sp, rft_steps="epochs") if method == "RFT-epochs" else sp
        ckpt = sft if method == "SFT" else cells.rft_checkpoint(budget, base, data, seed, len(datasets["SFT"]))
        scored = pipeline.evaluate_checkpoint(sp, ckpt, test)
        rows.append({**common, "method": method, "metric": "test_error", "value": scored["test_error"],
                     "n_samples": len(data), "n_test": len(test)})
        if method == "SFT":  # per test problem, the paired outcomes the regime gate compares with pi_base's
            rows += cells.solved_rows(scored["correct"], common, method)
        rows.append({**common, "method": method, "metric": "train_wall_s",  # no data: pi_base, nothing trained
                     "value": pipeline.train_log(ckpt)["wall_s"] if data else 0.0, "n_samples": len(data)})
    return rows


ABLATIONS = ("lr", "one_positive")


def ablation_preset(preset: Preset, ablation: str) -> Preset:
    """The preset an ablation runs: its settings or methods replaced."""
    if ablation not in ABLATIONS:
        raise ValueError(f"unknown ablation {ablation!r}; choose one of {ABLATIONS}")
    change = {"settings": preset.scaling.lr_arms} if ablation == "lr" else {"methods": ("SFT", "RFT-1")}
    return dataclasses.replace(preset, scaling=dataclasses.replace(preset.scaling, **change))


def run(preset: Preset | str = "cpu", progress: bool = False, ablation: str | None = None, ray: str | None = None,
        only_sizes: tuple[int, ...] | None = None, **overrides) -> pd.DataFrame:
    """The tidy results of every cell (SFT alone at `sft_sizes`), with provenance. Each cell's rows are
    written as it finishes (`cells.run_cells`, data/results/cells/STUDY__PRESET/) and a committed cell of
    the same config is read, not recomputed; `only_sizes` computes the missing cells of those sizes only, and the results then list
    the cells still missing in `df.attrs["missing_cells"]`. `ablation="lr"` runs the preset's
    learning-rate arms (same sizes, seeds and pi_base) instead of its settings, `ablation=
    "one_positive"` RFT-1 beside SFT; their results are saved as `positive_scaling_<ablation>`.
    `ray`: a Ray cluster's address ("auto") to run the cells on (`synthrl.pool`); None: the preset's
    `workers` on this machine. `overrides`: see `cells.with_overrides`."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    if ablation is not None:
        preset = ablation_preset(preset, ablation)
    preset = cells.with_overrides(preset, **overrides)
    cfg: ScalingConfig = preset.scaling
    study = STUDY if ablation is None else f"{STUDY}_{ablation}"
    start = time.perf_counter()
    base = cells.shared_base(preset)
    biggest, first_seed = max(cfg.sizes), cfg.seeds[0]
    sft_only = dataclasses.replace(preset, scaling=dataclasses.replace(cfg, methods=("SFT",)))
    jobs = [(preset if size in cfg.sizes else sft_only, s, seed, size, base, size == biggest and seed == first_seed)
            for size in sorted(cfg.sizes + cfg.sft_sizes) for s in cfg.settings for seed in cfg.seeds]
    named = [(f"{s.name}__seed{seed}__n{size}", cells.cell_key(study, p, s, seed, size, nll, unused=UNUSED))
             for p, s, seed, size, _, nll in jobs]
    rows, missing = cells.run_cells(study, preset, cell, jobs, named, "positive scaling cells", progress, ray,
                                    compute=None if only_sizes is None else (lambda job: job[3] in only_sizes))
    rows += cells.base_rows(preset, base)
    rows = [{"study": study, "preset": preset.name, "step": None, **r} for r in rows]
    df = table(rows, provenance(cache_key(to_dict(preset)), time.perf_counter() - start))
    df = df.sort_values(["setting", "method", "metric", "n_problems", "seed"], kind="stable", ignore_index=True)
    df.attrs["missing_cells"] = missing
    return df


# ---- analysis: fits, efficiencies, verdicts ------------------------------------------------------

def claims(results: pd.DataFrame, n_boot: int = 1000) -> pd.DataFrame:
    """paper's claim | ours | verdict, per setting; every verdict by the rules of `verdicts`."""
    rows = []
    f = cells.fits(results)
    f = f.set_index(["setting", "method"]) if not f.empty else f
    eff = cells.efficiencies(results, n_boot)
    eff = eff.set_index(["setting", "method"]) if not eff.empty else eff
    for setting in results.setting.dropna().unique():
        def add(claim, paper, ours, verdict):
            rows.append({"setting": setting, "claim": claim, "paper": paper, "ours": ours, "verdict": verdict})

        stuck = verdicts.at_bound(cells.errors(results, setting, "SFT")["value"])
        if (setting, "SFT") in f.index:
            s = f.loc[(setting, "SFT")]
            claim = "Fig. 2: SFT test error falls as a power law in the size of D_syn"
            if stuck or s["note"]:
                add(claim, "alpha about 0.05-0.15", s["note"] or "SFT's error does not move (floor or ceiling)",
                    verdicts.NOT_TESTABLE)
            else:
                add(claim, "alpha about 0.05-0.15",
                    f"alpha = {s.alpha:.3f} [{s.alpha_lo:.3f}, {s.alpha_hi:.3f}], R^2 = {s.r2:.2f}",
                    verdicts.interval(s.alpha_lo, s.alpha_hi, PAPER_ALPHA, 0.0, point=s.alpha))
        for method, claim, paper_text, paper in (
                ("RFT", "Fig. 2: RFT on D+ matches SFT on 2x the D_syn", "k = 2", 2.0),
                ("RFT-epochs", "Fig. 2: RFT trained for its own epochs over D+ (the paper's setting) matches SFT on "
                               "2x the D_syn", "k = 2", 2.0),
                ("RFT-1", "Fig. 9: RFT with one positive per problem beats SFT on as many samples", "k > 1",
                 (1.0, math.inf))):
            if (setting, method) in eff.index:
                add(claim, paper_text, *cells.k_row(eff.loc[(setting, method)], paper, stuck))
        nll = results[(results.setting == setting) & (results.metric == "nll_per_token")]
        if nll.empty or not {"D_syn", "D+"} <= set(nll.method):
            continue
        claim, at = "Fig. 3: D+ has lower NLL under pi_base than D_syn", int(nll["n_problems"].max())
        if at not in cells.in_regime(results, setting)[0]:
            add(claim, "lower", f"pi_sft's D+ at n = {at:,}: {cells.premise_note(results, setting, [at])}",
                verdicts.NOT_TESTABLE)
            continue
        a, b = nll[nll.method == "D+"]["value"], nll[nll.method == "D_syn"]["value"]
        ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)  # Welch
        add(claim, "lower", f"{a.mean():.3f} vs {b.mean():.3f} nats/token (diff {a.mean() - b.mean():+.3f} "
            f"[{ci.low:+.3f}, {ci.high:+.3f}])", verdicts.interval(ci.low, ci.high, (-math.inf, 0.0), 0.0))
    return pd.DataFrame(rows)


def means_table(results: pd.DataFrame) -> pd.DataFrame:
    """Mean test error over seeds, one row per size and one column per setting and method, to 3
    decimals: the table the README shows. pi_base (one number per setting) is the first row, in
    the SFT column of its setting."""
    m = cells.mean_errors(results)
    m = m.assign(column=m["setting"] + " " + m["method"].replace({"pi_base": "SFT"}))
    wide = m.pivot_table(index="n_problems", columns="column", values="mean", sort=False).sort_index()
    wide = wide.map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    wide.columns.name = None
    order = [f"{s} {method}" for s in m["setting"].drop_duplicates() for method in METHODS]
    sizes = ["pi_base" if n == 0 else f"{int(n):,}" for n in wide.index]
    header = r"\|D_syn\|"  # escaped for a markdown table
    return wide.reset_index(drop=True).assign(**{header: sizes})[[header, *(c for c in order if c in wide)]]


def nll_summary(results: pd.DataFrame) -> pd.DataFrame:
    nll = results[results.metric == "nll_per_token"]
    return nll.groupby(["setting", "method"])["value"].describe()[["count", "mean", "50%", "std"]]


def fig2(results: pd.DataFrame, n_boot: int = 1000):
    """Figs. 2a/2b from the numbers this module computes (means, fits, k with its interval, pi_base)."""
    from synthrl import figures as draw

    return draw.positive_scaling(cells.mean_errors(results), cells.fits(results), cells.efficiencies(results, n_boot),
                                 cells.base_errors(results), str(results["preset"].iloc[0]))


def fig9(results: pd.DataFrame):
    """Fig. 9 from the numbers this module computes."""
    from synthrl import figures as draw

    return draw.one_positive(cells.mean_errors(results), cells.fits(results), cells.base_errors(results))


def figures(results: pd.DataFrame, n_boot: int = 1000) -> dict:
    """Figs. 2, 3 and 9, drawn from the numbers this module computes."""
    from synthrl import figures as draw

    suffix = str(results["study"].iloc[0])[len(STUDY):]  # "", "_lr" or "_one_positive"
    if suffix == "_one_positive":  # the main run's cells: only Fig. 9 is this run's own
        return {"fig9_one_positive": fig9(results)}
    figs = {f"fig2_positive_scaling{suffix}": fig2(results, n_boot),
            f"fig3_nll_under_base{suffix}": draw.nll_under_base(results)}
    if (results.method == "RFT-1").any():
        figs[f"fig9_one_positive{suffix}"] = fig9(results)
    return figs
