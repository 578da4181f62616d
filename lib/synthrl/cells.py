"""The building blocks every study's cells are made of: a setting's preset, the one pi_base of all
settings, SFT and RFT by the one budget rule, pi_sft's yield, pi_base's row; and the analysis the
studies share: test errors by method, power-law fits, k-fold efficiencies over SFT and their verdicts.

The positive-scaling study's cell (`synthrl.studies.positive_scaling.cell`) is made of these, and the
negative-data and spurious-positive studies build on the same ones.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import time

import pandas as pd

from synthrl import pipeline, verdicts
from synthrl.cache import cache_key
from synthrl.config import Preset, Setting, TrainConfig, to_dict
from synthrl.presets import get_preset
from synthrl.scaling import Efficiency, bootstrap_efficiency, fit_power_law_by_seed


def setting_preset(preset: Preset, setting: Setting) -> Preset:
    """The preset one setting's cells run with: its task, world and SFT/RFT learning rate, and
    the study's samples per problem."""
    lr = {} if setting.sft_lr is None else {"sft": dataclasses.replace(preset.sft, lr=setting.sft_lr),
                                            "rft": dataclasses.replace(preset.rft, lr=setting.sft_lr)}
    sampling = dataclasses.replace(preset.sampling, n=preset.scaling.samples_per_problem)
    return dataclasses.replace(preset, task=setting.task, world=setting.world or preset.world, sampling=sampling,
                               **lr)


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


def shared_base(preset: Preset) -> str:
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


def train_config(preset: Preset, n_rows: int, cfg: TrainConfig | None = None) -> TrainConfig:
    """`cfg` (the preset's SFT config by default) run for the study's `epochs` passes over n_rows and their
    replay rows (`Preset.finetune_replay`), at least `min_steps` steps."""
    cfg = cfg or preset.sft
    n_rows += round(preset.finetune_replay * n_rows)
    steps = max(preset.scaling.min_steps, math.ceil(preset.scaling.epochs * n_rows / cfg.batch_size))
    return dataclasses.replace(cfg, max_steps=steps)


def finetune(preset: Preset, stage: str, base: str, rows: list[dict], seed: int, n_rows: int) -> str:
    """Train on `rows` for the budget of `n_rows` rows (`train_config`). Nothing to train on (an empty
    D+: pi_sft solved none of its problems) leaves `base` as it is."""
    return pipeline.finetune(preset, stage, base, rows, seed, train_config(preset, n_rows)) if rows else base


def rft_checkpoint(preset: Preset, base: str, data: list[dict], seed: int, n_sft_rows: int) -> str:
    """RFT from pi_base on `data` by the kit's one budget rule (`pipeline.rft_config`): the steps SFT took on
    its `n_sft_rows` rows, or the study's epochs over `data`. RFT on an empty D+ is pi_base."""
    if not data:
        return base
    cfg = pipeline.rft_config(preset, train_config(preset, n_sft_rows).max_steps,
                              train_config(preset, len(data), preset.rft))
    return pipeline.finetune(preset, "pi_rft", base, data, seed, cfg)


def yield_of(sampled: list[dict]) -> dict[str, float]:
    """pi_sft's samples on its own D_syn problems: the fraction correct (sample_accuracy) and the
    fraction of problems with at least one correct sample (coverage), the regime's two numbers."""
    solved: dict[str, bool] = {}
    for r in sampled:
        solved[r["uid"]] = solved.get(r["uid"], False) or bool(r["correct"])
    return {"sample_accuracy": sum(r["correct"] for r in sampled) / len(sampled),
            "coverage": sum(solved.values()) / len(solved)}


def base_rows(preset: Preset, base: str) -> list[dict]:
    """pi_base's greedy test error on each setting's test split (the row every table shows beside SFT), and
    its outcome on each test problem."""
    rows = []
    for setting in preset.scaling.settings:
        sp = setting_preset(preset, setting)
        test = pipeline.test_problems(sp)
        scored = pipeline.evaluate_checkpoint(sp, base, test)
        common = {"setting": setting.name, "task": sp.task, "seed": sp.seed, "n_problems": 0}
        rows.append({**common, "method": "pi_base", "metric": "test_error", "n_test": len(test),
                     "value": scored["test_error"]})
        rows += solved_rows(scored["correct"], common, "pi_base")
    return rows


def solved_rows(correct: list[bool], common: dict, method: str) -> list[dict]:
    """One row per test problem (metric "solved", its index in "item"): the paired outcomes a McNemar test
    compares on the same problems (`regime_gate`)."""
    return [{**common, "method": method, "metric": "solved", "value": float(c), "item": i}
            for i, c in enumerate(correct)]


def outcomes(solved: pd.DataFrame) -> list[bool]:
    """`solved_rows` of one policy (one seed) read back: its outcome on each test problem, in item order."""
    return [] if solved.empty else solved.sort_values("item")["value"].astype(bool).tolist()


# ---- cells committed as they finish ------------------------------------------------------------

_WALL = "__cell_wall_s__"  # the marker row a timed cell ends with (read off before its rows are kept)


def _timed(fn, *job) -> list[dict]:
    start = time.perf_counter()
    rows = fn(*job)
    return [*rows, {_WALL: time.perf_counter() - start}]


def cell_key(study: str, preset: Preset, *parts, unused: tuple[str, ...] = ()) -> str:
    """A cell's config hash: the preset as it is, except the study's lists of sizes and seeds and its
    workers (choosing which cells to run changes no cell), and the Preset fields named in `unused` (the
    configs of other studies, which the cell never reads), each at its default; and the cell's own arguments."""
    chosen = {"scaling": dataclasses.replace(preset.scaling, sizes=(1, 2), sft_sizes=(), seeds=(0,), workers=1),
              "negative": dataclasses.replace(preset.negative, sizes=(), seeds=()),
              "spurious": dataclasses.replace(preset.spurious, seeds=())}  # the same for any choice of cells
    defaults = {f.name: f.default_factory() for f in dataclasses.fields(Preset) if f.name in unused}
    if unknown := set(unused) - set(defaults):
        raise ValueError(f"not a Preset config with a default: {sorted(unknown)}")
    return cache_key(study, to_dict(dataclasses.replace(preset, **{**chosen, **defaults})),
                     *[to_dict(p) if dataclasses.is_dataclass(p) else p for p in parts])


def run_cells(study: str, preset: Preset, fn, jobs: list[tuple], cells: list[tuple[str, str]], desc: str,
              progress: bool = False, ray: str | None = None, compute=None) -> tuple[list[dict], list[str]]:
    """The rows of every job, each cell once: a committed cell file (`results.cell_path`) of the same config
    hash is read; any other cell is computed, where `compute(job)` allows (all by default), and written as
    it finishes, with its own wall time and provenance. `cells` names each job and gives its config hash
    (`cell_key`). Returns the rows and the names of the cells neither committed nor computed."""
    from synthrl.pool import map_cells
    from synthrl.results import git_commit, load_cell, save_cell

    commit = git_commit()  # the code every cell of this run is computed with
    rows, todo, missing, named = [], [], [], {}
    for job, (name, key) in zip(jobs, cells):
        found = load_cell(study, preset.name, name, key)
        if found is not None:
            rows += found
        elif compute is None or compute(job):
            todo.append(job)
            named[id(job)] = (name, key)
        else:
            missing.append(name)

    def finished(job, got):
        name, key = named[id(job)]
        wall = got[-1][_WALL]
        save_cell(got[:-1], study, preset.name, name, key, wall, commit)
        rows.extend(load_cell(study, preset.name, name, key))  # as committed: the cell's own provenance

    map_cells(functools.partial(_timed, fn), todo, preset.scaling.workers, desc, progress, ray, done=finished)
    return rows, missing


# ---- analysis: errors, fits, efficiencies -----------------------------------------------------

def errors(results: pd.DataFrame, setting: str, method: str) -> pd.DataFrame:
    return results[(results.setting == setting) & (results.method == method) & (results.metric == "test_error")]


def mean_errors(results: pd.DataFrame) -> pd.DataFrame:
    """Mean test error and its standard error over seeds, per setting, method and size."""
    e = results[results.metric == "test_error"]
    g = e.groupby(["setting", "method", "n_problems"])
    out = g["value"].agg(["mean", "sem", "count"]).reset_index()
    out["n_samples"] = g["n_samples"].mean().to_numpy()
    return out.assign(sem=out["sem"].fillna(0.0))


def base_errors(results: pd.DataFrame) -> pd.DataFrame:
    """pi_base's test error per setting (the line every table and figure shows beside SFT)."""
    return results[(results.method == "pi_base") & (results.metric == "test_error")][["setting", "value"]]


def fits(results: pd.DataFrame) -> pd.DataFrame:
    """Power-law fit of test error against |D_syn| per setting and method, pi_base aside: each seed's curve
    fitted on its own, alpha with a 95% t interval over seeds (`scaling.fit_power_law_by_seed`). RFT-1 is
    fitted against its number of training samples (Fig. 9)."""
    out = []
    e = results[(results.metric == "test_error") & (results.method != "pi_base")]
    for (setting, method), g in e.groupby(["setting", "method"]):
        try:
            f = fit_power_law_by_seed(g["n_samples"] if method == "RFT-1" else g["n_problems"], g["value"], g["seed"])
        except ValueError as err:  # an error of 0 or a single size: no log-log fit
            out.append({"setting": setting, "method": method, "note": str(err)})
            continue
        out.append({"setting": setting, "method": method, "a": f.a, "alpha": f.alpha, "alpha_lo": f.alpha_ci[0],
                    "alpha_hi": f.alpha_ci[1], "r2": f.r2, "note": ""})
    return pd.DataFrame(out, columns=["setting", "method", "a", "alpha", "alpha_lo", "alpha_hi", "r2", "note"])


def regime_gate(results: pd.DataFrame) -> pd.DataFrame:
    """Per setting and |D_syn|: whether SFT is better than pi_base there (`verdicts.sft_helps`, McNemar on
    the same test problems in every seed), from the cells' "solved" rows; no row where they are missing."""
    solved = results[results.metric == "solved"]
    out = []
    for setting, g in solved.groupby("setting"):
        base = outcomes(g[g.method == "pi_base"])
        sft = g[g.method == "SFT"]
        for n, at in sft.groupby("n_problems"):
            by_seed = [outcomes(s) for _, s in at.groupby("seed")]
            out.append({"setting": setting, "n_problems": int(n), "seeds": len(by_seed),
                        "sft_helps": bool(base) and verdicts.sft_helps(base, by_seed)})
    return pd.DataFrame(out, columns=["setting", "n_problems", "seeds", "sft_helps"])


NO_OUTCOMES = ("no per-problem outcomes of SFT and pi_base in these results: the paper's premise (SFT better "
               "than pi_base) cannot be tested")


def premise_note(results: pd.DataFrame, setting: str, sizes) -> str:
    """Why claims at `sizes` (where `in_regime` says SFT is not better than pi_base) are not judged."""
    if regime_gate(results).query("setting == @setting").empty:
        return NO_OUTCOMES
    return f"SFT is not better than pi_base at n = {', '.join(f'{int(n):,}' for n in sizes)} (McNemar in every seed)"


def in_regime(results: pd.DataFrame, setting: str) -> tuple[list[int], list[int]]:
    """The sizes of `setting` where SFT is better than pi_base (a claim about a method trained from pi_sft is
    testable there), and the sizes where it is not or cannot be told (no per-problem outcomes)."""
    gate = regime_gate(results)
    helps = {int(n) for n in gate.loc[(gate.setting == setting) & gate.sft_helps, "n_problems"]}
    sizes = sorted(int(n) for n in errors(results, setting, "SFT")["n_problems"].unique())
    return [n for n in sizes if n in helps], [n for n in sizes if n not in helps]


def _from_pi_sft(results: pd.DataFrame, setting: str) -> pd.Series:
    """The rows of `setting` of methods other than SFT and pi_base (those the regime gate applies to)."""
    return (results.setting == setting) & ~results.method.isin(["SFT", "pi_base"]) & (results.n_problems > 0)


def judged_rows(results: pd.DataFrame, setting: str) -> pd.DataFrame:
    """The results a claim about a method trained from pi_sft is judged on in `setting`: pi_base's and SFT's
    rows, and the other methods' at the sizes `in_regime`. With no size in the regime, the results as they
    are: every such claim of the setting is then not testable here (`gate_verdicts`)."""
    regime, outside = in_regime(results, setting)
    if not outside or not regime:
        return results
    return results[~_from_pi_sft(results, setting) | results.n_problems.isin(regime)]


def gate_verdicts(rows: list[dict], results: pd.DataFrame, setting: str, start: int) -> None:
    """The regime gate applied to the claims rows[start:] of `setting` (about methods trained from pi_sft,
    judged on `judged_rows`): with no size in the regime each is not testable here, with some left out its
    "ours" says which. A row's "_methods" (taken out here), where set, names the methods its claim compares
    cell by cell: its note then names only the sizes all of them were trained at."""
    regime, outside = in_regime(results, setting)
    # the note names only sizes some claim's method was trained at (SFT alone may reach further)
    trained = results[_from_pi_sft(results, setting) & (results.metric == "test_error")]
    sizes_of = {m: set(g.n_problems.astype(int)) for m, g in trained.groupby("method")}
    every_size = set().union(*sizes_of.values())
    notes = {}  # one premise note per set of sizes shown (each reads the regime gate)
    for r in rows[start:]:
        methods = r.pop("_methods", None)
        at = set.intersection(*(sizes_of.get(m, set()) for m in methods)) if methods else every_size
        shown = tuple(n for n in outside if n in at) if regime else tuple(outside)
        if not shown:
            continue
        if shown not in notes:
            notes[shown] = premise_note(results, setting, shown)
        note = notes[shown]
        if not regime:
            r.update(ours=f"{note}; {r['ours']}", verdict=verdicts.NOT_TESTABLE)
        else:
            r["ours"] += f" ({note}: those cells not judged)"


def efficiency(results: pd.DataFrame, setting: str, method: str, n_boot: int = 1000,
               regime: list[int] | None = None) -> Efficiency:
    """k-fold data efficiency of `method` over SFT (verdicts.py: only where the method's error lies
    inside SFT's measured range; bootstrap paired by seed). RFT is compared at equal |D_syn|; RFT-1
    at its number of training samples (Fig. 9: the same number of samples as SFT). `method`'s cells are
    those at the sizes in `regime` (None: `in_regime`'s); SFT's curve uses every size."""
    sft, m = errors(results, setting, "SFT"), errors(results, setting, method)
    m = m[m.n_problems.isin(in_regime(results, setting)[0] if regime is None else regime)]
    n = m["n_samples"] if method == "RFT-1" else m["n_problems"]
    return bootstrap_efficiency(sft["n_problems"], sft["value"], sft["seed"], n, m["value"], m["seed"],
                                method_groups=m["n_problems"].to_numpy(), n_boot=n_boot)


def efficiencies(results: pd.DataFrame, n_boot: int = 1000, methods=("RFT", "RFT-epochs", "RFT-1")) -> pd.DataFrame:
    """k of each method (RFT, RFT-epochs and RFT-1 here) over SFT per setting: the numbers the claims and the
    figures show."""
    out = []
    for setting in results.setting.dropna().unique():
        regime, outside = in_regime(results, setting)
        for method in methods:
            if errors(results, setting, method).empty or errors(results, setting, "SFT").empty:
                continue
            if not regime:
                out.append({"setting": setting, "method": method, "sizes_used": [], "sizes_beyond": [],
                            "outside_regime": outside, "note": "", "premise": premise_note(results, setting, outside)})
                continue
            try:
                e = efficiency(results, setting, method, n_boot, regime)
            except ValueError as err:  # SFT's errors give no log-log fit (an error of 0)
                out.append({"setting": setting, "method": method, "note": str(err)})
                continue
            trained = set(errors(results, setting, method).n_problems.astype(int))
            out.append({"setting": setting, "method": method, "k": e.k, "k_lo": e.lo, "k_hi": e.hi,
                        "sizes_used": list(e.groups_used), "sizes_beyond": list(e.groups_beyond), "dropped": e.dropped,
                        "outside_regime": [n for n in outside if n in trained], "note": ""})
    return pd.DataFrame(out, columns=["setting", "method", "k", "k_lo", "k_hi", "sizes_used", "sizes_beyond", "dropped",
                                      "outside_regime", "note", "premise"])


def k_row(eff: pd.Series, paper, sft_stuck: bool) -> tuple[str, str]:
    """ours, verdict for one efficiency row."""
    if sft_stuck:
        return "SFT's error does not move (floor or ceiling)", verdicts.NOT_TESTABLE
    if eff.get("note"):
        return f"no estimate: {eff['note']}", verdicts.NOT_TESTABLE
    outside = ", ".join(f"{int(n):,}" for n in eff["outside_regime"])
    if not eff["sizes_used"] and not eff["sizes_beyond"]:
        return eff["premise"], verdicts.NOT_TESTABLE
    beyond = ", ".join(str(int(n)) for n in eff["sizes_beyond"])
    if not eff["sizes_used"]:
        return f"the method's error lies outside SFT's measured range at every size ({beyond})", verdicts.BEYOND_RANGE
    ours = (f"k = {eff['k']:.2f} [{eff['k_lo']:.2f}, {eff['k_hi']:.2f}] at n = "
            f"{', '.join(str(int(n)) for n in eff['sizes_used'])}")
    if beyond:
        ours += f" ({beyond}: beyond SFT's range)"
    if outside:
        ours += f" ({outside}: SFT not better than pi_base, not judged)"
    if eff["dropped"] > 0:
        ours += f"; {eff['dropped']:.0%} of resamples dropped"
    return ours, verdicts.interval(eff["k_lo"], eff["k_hi"], paper, 1.0)
