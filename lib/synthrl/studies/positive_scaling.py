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

from synthrl import pipeline, verdicts
from synthrl.cache import cache_key
from synthrl.config import Preset, ScalingConfig, Setting, TrainConfig, to_dict
from synthrl.presets import get_preset
from synthrl.results import provenance, table
from synthrl.scaling import Efficiency, bootstrap_efficiency, fit_power_law

STUDY = "positive_scaling"
METHODS = ("SFT", "RFT", "RFT-1")
PAPER_ALPHA = (0.05, 0.15)  # paper.md, claim 1: exponents of about 0.15 and 0.05


def setting_preset(preset: Preset, setting: Setting) -> Preset:
    """The preset one setting's cells run with: its task, world and SFT/RFT learning rate, and
    the study's samples per problem."""
    lr = {} if setting.sft_lr is None else {"sft": dataclasses.replace(preset.sft, lr=setting.sft_lr),
                                            "rft": dataclasses.replace(preset.rft, lr=setting.sft_lr)}
    sampling = dataclasses.replace(preset.sampling, n=preset.scaling.samples_per_problem)
    return dataclasses.replace(preset, task=setting.task, world=setting.world or preset.world, sampling=sampling,
                               **lr)


def train_config(preset: Preset, n_rows: int) -> TrainConfig:
    """The preset's SFT config run for `epochs` passes over n_rows and their replay rows
    (`Preset.finetune_replay`), at least `min_steps` steps."""
    cfg = preset.scaling
    n_rows += round(preset.finetune_replay * n_rows)
    steps = max(cfg.min_steps, math.ceil(cfg.epochs * n_rows / preset.sft.batch_size))
    return dataclasses.replace(preset.sft, max_steps=steps)


def _finetune(preset: Preset, stage: str, base: str, rows: list[dict], seed: int, n_rows: int) -> str:
    """Train on `rows` for the budget of `n_rows` rows (`train_config`). RFT on an empty D+ (pi_sft
    solved none of its problems) trains on nothing: it is pi_base."""
    return pipeline.finetune(preset, stage, base, rows, seed, train_config(preset, n_rows)) if rows else base


def rft_checkpoint(preset: Preset, base: str, data: list[dict], seed: int, n_sft_rows: int) -> str:
    """RFT from pi_base on `data`, for SFT's budget on its `n_sft_rows` rows (`Preset.rft_steps` "sft") or
    for the preset's epochs over `data`: the budget rule every RFT of the studies follows."""
    return _finetune(preset, "pi_rft", base, data, seed, n_sft_rows if preset.rft_steps == "sft" else len(data))


def cell(preset: Preset, setting: Setting, seed: int, size: int, base: str, score_nll: bool) -> list[dict]:
    """One chain at one size and seed: the test error of SFT, RFT and RFT-1, D+'s yield, and (if
    `score_nll`) the per-token NLL of D_syn and D+ solutions under pi_base (Fig. 3)."""
    sp = setting_preset(preset, setting)
    problems = pipeline.d_syn(sp, n=size, seed=seed)
    test = pipeline.test_problems(sp)
    sft_rows = pipeline.sft_rows(sp, problems)
    sft = _finetune(sp, "pi_sft", base, sft_rows, seed, len(sft_rows))
    sampled = pipeline.samples(sp, sft, problems, seed)
    plus = pipeline.d_plus(sampled, sp.sampling.positives_per_problem)
    datasets = {"SFT": sft_rows, "RFT": plus, "RFT-1": pipeline.d_plus(sampled, 1)}
    datasets = {m: d for m, d in datasets.items() if m in preset.scaling.methods}
    common = {"setting": setting.name, "task": sp.task, "seed": seed, "n_problems": size}
    rows = []
    for method, data in datasets.items():
        ckpt = sft if method == "SFT" else rft_checkpoint(sp, base, data, seed, len(sft_rows))
        err = pipeline.evaluate_checkpoint(sp, ckpt, test)["test_error"]
        rows.append({**common, "method": method, "metric": "test_error", "value": err, "n_samples": len(data),
                     "n_test": len(test)})
        rows.append({**common, "method": method, "metric": "train_wall_s",  # no data: pi_base, nothing trained
                     "value": pipeline.train_log(ckpt)["wall_s"] if data else 0.0, "n_samples": len(data)})
    rows += [{**common, "method": "pi_sft", "metric": m, "value": v, "n_samples": len(sampled)}
             for m, v in yield_of(sampled).items()]
    rows.append({**common, "method": "RFT", "metric": "d_plus_problems", "value": len({r["uid"] for r in plus})})
    if score_nll:
        for name, data in (("D_syn", sft_rows), ("D+", plus)):
            chosen = random.Random(seed).sample(data, min(preset.scaling.nll_samples, len(data)))
            for i, nll in enumerate(pipeline.nll_under(sp, base, chosen)):
                rows.append({**common, "method": name, "metric": "nll_per_token", "value": nll, "sample": i})
    return rows


def yield_of(sampled: list[dict]) -> dict[str, float]:
    """pi_sft's samples on its own D_syn problems: the fraction correct (sample_accuracy) and the
    fraction of problems with at least one correct sample (coverage), the regime's two numbers."""
    solved: dict[str, bool] = {}
    for r in sampled:
        solved[r["uid"]] = solved.get(r["uid"], False) or bool(r["correct"])
    return {"sample_accuracy": sum(r["correct"] for r in sampled) / len(sampled),
            "coverage": sum(solved.values()) / len(solved)}


def base_rows(preset: Preset, base: str) -> list[dict]:
    """pi_base's greedy test error on each setting's test split (the row every table shows beside SFT)."""
    rows = []
    for setting in preset.scaling.settings:
        sp = setting_preset(preset, setting)
        test = pipeline.test_problems(sp)
        rows.append({"setting": setting.name, "task": sp.task, "seed": sp.seed, "n_problems": 0,
                     "method": "pi_base", "metric": "test_error", "n_test": len(test),
                     "value": pipeline.evaluate_checkpoint(sp, base, test)["test_error"]})
    return rows


def _shared_base(preset: Preset) -> str:
    """One pi_base for every setting (the paper uses one base model for GSM8K and MATH): the
    first setting's. Arith worlds must then share a vocabulary."""
    first = setting_preset(preset, preset.scaling.settings[0])
    if preset.model.pretrained is None:
        vocab = pipeline.make_task(first).vocabulary()
        for s in preset.scaling.settings[1:]:
            if pipeline.make_task(setting_preset(preset, s)).vocabulary() != vocab:
                raise ValueError(f"setting {s.name!r} has another vocabulary than {preset.scaling.settings[0].name!r}"
                                 ": give its world the same max_value so one pi_base reads both")
    return pipeline.pi_base(first)


def with_overrides(preset: Preset | str, sizes=None, seeds=None, settings=None, positives_per_problem=None,
                   temperature=None, workers=None, methods=None) -> Preset:
    """The preset with the explore section's knobs replaced (None keeps the preset's value);
    `settings` names a subset of the preset's settings."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    if settings is not None:
        known = {s.name: s for s in preset.scaling.settings}
        if unknown := set(settings) - set(known):
            raise ValueError(f"unknown settings {sorted(unknown)}; preset {preset.name!r} has {sorted(known)}")
        settings = [known[name] for name in known if name in settings]  # the preset's order: its first is pi_base's
    scaling = {k: tuple(v) if k != "workers" else v
               for k, v in (("sizes", sizes), ("seeds", seeds), ("settings", settings), ("workers", workers),
                            ("methods", methods))
               if v is not None}
    sampling = {k: v for k, v in (("positives_per_problem", positives_per_problem),
                                  ("temperature", temperature)) if v is not None}
    return dataclasses.replace(preset, scaling=dataclasses.replace(preset.scaling, **scaling),
                               sampling=dataclasses.replace(preset.sampling, **sampling))


# lr: the SFT/RFT learning-rate arms of `ScalingConfig.lr_arms` as the settings; one_positive: RFT-1
# (one positive per problem, Fig. 9) beside SFT, on the preset's settings
ABLATIONS = ("lr", "one_positive")


def ablation_preset(preset: Preset, ablation: str) -> Preset:
    """The preset an ablation runs: its settings or methods replaced."""
    if ablation not in ABLATIONS:
        raise ValueError(f"unknown ablation {ablation!r}; choose one of {ABLATIONS}")
    change = {"settings": preset.scaling.lr_arms} if ablation == "lr" else {"methods": ("SFT", "RFT-1")}
    return dataclasses.replace(preset, scaling=dataclasses.replace(preset.scaling, **change))


def run(preset: Preset | str = "cpu", progress: bool = False, ablation: str | None = None, ray: str | None = None,
        **overrides) -> pd.DataFrame:
    """The tidy results of every cell, with provenance. `ablation="lr"` runs the preset's
    learning-rate arms (same sizes, seeds and pi_base) instead of its settings, `ablation=
    "one_positive"` RFT-1 beside SFT; their results are saved as `positive_scaling_<ablation>`.
    `ray`: a Ray cluster's address ("auto") to run the cells on (`synthrl.pool`); None: the preset's
    `workers` on this machine. `overrides`: see `with_overrides`."""
    from synthrl.pool import map_cells

    preset = get_preset(preset) if isinstance(preset, str) else preset
    if ablation is not None:
        preset = ablation_preset(preset, ablation)
    preset = with_overrides(preset, **overrides)
    cfg: ScalingConfig = preset.scaling
    start = time.perf_counter()
    base = _shared_base(preset)
    biggest, first_seed = max(cfg.sizes), cfg.seeds[0]
    jobs = [(preset, s, seed, size, base, size == biggest and seed == first_seed)
            for size in sorted(cfg.sizes, reverse=True) for s in cfg.settings for seed in cfg.seeds]
    rows = map_cells(cell, jobs, cfg.workers, "positive scaling cells", progress, ray)
    rows += base_rows(preset, base)
    study = STUDY if ablation is None else f"{STUDY}_{ablation}"
    rows = [{"study": study, "preset": preset.name, "step": None, **r} for r in rows]
    df = table(rows, provenance(cache_key(to_dict(preset)), time.perf_counter() - start))
    return df.sort_values(["setting", "method", "metric", "n_problems", "seed"], kind="stable", ignore_index=True)


# ---- analysis: fits, efficiencies, verdicts ------------------------------------------------------

def errors(results: pd.DataFrame, setting: str, method: str) -> pd.DataFrame:
    return results[(results.setting == setting) & (results.method == method) & (results.metric == "test_error")]


def fits(results: pd.DataFrame) -> pd.DataFrame:
    """Power-law fit of test error against |D_syn| per setting and method (alpha with a 95% t
    interval). RFT-1 is fitted against its number of training samples."""
    out = []
    for setting in results.setting.dropna().unique():
        for method in METHODS:
            e = errors(results, setting, method)
            if e.empty:
                continue
            x = e["n_samples"] if method == "RFT-1" else e["n_problems"]
            try:
                f = fit_power_law(x, e["value"])
            except ValueError as err:  # an error of 0 or a single size: no log-log fit
                out.append({"setting": setting, "method": method, "note": str(err)})
                continue
            out.append({"setting": setting, "method": method, "a": f.a, "alpha": f.alpha,
                        "alpha_lo": f.alpha_ci[0], "alpha_hi": f.alpha_ci[1], "r2": f.r2, "note": ""})
    return pd.DataFrame(out)


def efficiency(results: pd.DataFrame, setting: str, method: str, n_boot: int = 1000) -> Efficiency:
    """k-fold data efficiency of `method` over SFT (verdicts.py: only where the method's error lies
    inside SFT's measured range; bootstrap paired by seed). RFT is compared at equal |D_syn|; RFT-1
    at its number of training samples (Fig. 9: the same number of samples as SFT)."""
    sft, m = errors(results, setting, "SFT"), errors(results, setting, method)
    n = m["n_samples"] if method == "RFT-1" else m["n_problems"]
    return bootstrap_efficiency(sft["n_problems"], sft["value"], sft["seed"], n, m["value"], m["seed"],
                                method_groups=m["n_problems"].to_numpy(), n_boot=n_boot)


def efficiencies(results: pd.DataFrame, n_boot: int = 1000, methods=("RFT", "RFT-1")) -> pd.DataFrame:
    """k of each method (RFT and RFT-1 here) over SFT per setting: the numbers the claims and the figures show."""
    out = []
    for setting in results.setting.dropna().unique():
        for method in methods:
            if errors(results, setting, method).empty or errors(results, setting, "SFT").empty:
                continue
            try:
                e = efficiency(results, setting, method, n_boot)
            except ValueError as err:  # SFT's errors give no log-log fit (an error of 0)
                out.append({"setting": setting, "method": method, "note": str(err)})
                continue
            out.append({"setting": setting, "method": method, "k": e.k, "k_lo": e.lo, "k_hi": e.hi,
                        "sizes_used": list(e.groups_used), "sizes_beyond": list(e.groups_beyond),
                        "dropped": e.dropped, "note": ""})
    return pd.DataFrame(out)


def _k_row(eff: pd.Series, paper, sft_stuck: bool) -> tuple[str, str]:
    """ours, verdict for one efficiency row."""
    if sft_stuck:
        return "SFT's error does not move (floor or ceiling)", verdicts.NOT_TESTABLE
    if eff.get("note"):
        return f"no estimate: {eff['note']}", verdicts.NOT_TESTABLE
    beyond = ", ".join(str(int(n)) for n in eff["sizes_beyond"])
    if not eff["sizes_used"]:
        return f"the method's error lies outside SFT's measured range at every size ({beyond})", verdicts.BEYOND_RANGE
    ours = (f"k = {eff['k']:.2f} [{eff['k_lo']:.2f}, {eff['k_hi']:.2f}] at n = "
            f"{', '.join(str(int(n)) for n in eff['sizes_used'])}")
    if beyond:
        ours += f" ({beyond}: beyond SFT's range)"
    if eff["dropped"] > 0:
        ours += f"; {eff['dropped']:.0%} of resamples dropped"
    return ours, verdicts.interval(eff["k_lo"], eff["k_hi"], paper, 1.0)


def claims(results: pd.DataFrame, n_boot: int = 1000) -> pd.DataFrame:
    """paper's claim | ours | verdict, per setting; every verdict by the rules of `verdicts`."""
    rows = []
    f = fits(results)
    f = f.set_index(["setting", "method"]) if not f.empty else f
    eff = efficiencies(results, n_boot)
    eff = eff.set_index(["setting", "method"]) if not eff.empty else eff
    for setting in results.setting.dropna().unique():
        def add(claim, paper, ours, verdict):
            rows.append({"setting": setting, "claim": claim, "paper": paper, "ours": ours, "verdict": verdict})

        stuck = verdicts.at_bound(errors(results, setting, "SFT")["value"])
        if (setting, "SFT") in f.index:
            s = f.loc[(setting, "SFT")]
            claim = "Fig. 2: SFT test error falls as a power law in the size of D_syn"
            if stuck or s["note"]:
                add(claim, "alpha about 0.05-0.15", s["note"] or "SFT's error does not move (floor or ceiling)",
                    verdicts.NOT_TESTABLE)
            else:
                add(claim, "alpha about 0.05-0.15",
                    f"alpha = {s.alpha:.3f} [{s.alpha_lo:.3f}, {s.alpha_hi:.3f}], R^2 = {s.r2:.2f}",
                    verdicts.interval(s.alpha_lo, s.alpha_hi, PAPER_ALPHA, 0.0))
        for method, claim, paper_text, paper in (
                ("RFT", "Fig. 2: RFT on D+ matches SFT on 2x the D_syn", "k = 2", 2.0),
                ("RFT-1", "Fig. 9: RFT with one positive per problem beats SFT on as many samples", "k > 1",
                 (1.0, math.inf))):
            if (setting, method) in eff.index:
                add(claim, paper_text, *_k_row(eff.loc[(setting, method)], paper, stuck))
        nll = results[(results.setting == setting) & (results.metric == "nll_per_token")]
        if not nll.empty and {"D_syn", "D+"} <= set(nll.method):
            a, b = nll[nll.method == "D+"]["value"], nll[nll.method == "D_syn"]["value"]
            ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)  # Welch
            add("Fig. 3: D+ has lower NLL under pi_base than D_syn", "lower",
                f"{a.mean():.3f} vs {b.mean():.3f} nats/token (diff {a.mean() - b.mean():+.3f} "
                f"[{ci.low:+.3f}, {ci.high:+.3f}])",
                verdicts.interval(ci.low, ci.high, (-math.inf, 0.0), 0.0))
    return pd.DataFrame(rows)


def mean_errors(results: pd.DataFrame) -> pd.DataFrame:
    """Mean test error and its standard error over seeds, per setting, method and size."""
    e = results[results.metric == "test_error"]
    g = e.groupby(["setting", "method", "n_problems"])
    out = g["value"].agg(["mean", "sem", "count"]).reset_index()
    out["n_samples"] = g["n_samples"].mean().to_numpy()
    return out.assign(sem=out["sem"].fillna(0.0))


def means_table(results: pd.DataFrame) -> pd.DataFrame:
    """Mean test error over seeds, one row per size and one column per setting and method, to 3
    decimals: the table the README shows. pi_base (one number per setting) is the first row, in
    the SFT column of its setting."""
    m = mean_errors(results)
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



def base_errors(results: pd.DataFrame) -> pd.DataFrame:
    """pi_base's test error per setting (the line every table and figure shows beside SFT)."""
    return results[(results.method == "pi_base") & (results.metric == "test_error")][["setting", "value"]]


def fig2(results: pd.DataFrame, n_boot: int = 1000):
    """Figs. 2a/2b from the numbers this module computes (means, fits, k with its interval, pi_base)."""
    from synthrl import figures as draw

    return draw.positive_scaling(mean_errors(results), fits(results), efficiencies(results, n_boot),
                                 base_errors(results), str(results["preset"].iloc[0]))


def fig9(results: pd.DataFrame):
    """Fig. 9 from the numbers this module computes."""
    from synthrl import figures as draw

    return draw.one_positive(mean_errors(results), fits(results), base_errors(results))


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
