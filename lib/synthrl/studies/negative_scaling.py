"""Negative-data scaling (paper Figs. 5a/5b/5c, 10, 11): per-step DPO on pi_sft's negatives cut at
their first pit, against SFT and RFT (the positive-scaling cells), naive DPO and DPOP on whole
responses, advantage-weighted RL, advantage-filtered RFT, per-step DPO with advantages pooled from
pi_sft's samples (Fig. 10) and with the exact first wrong step (the oracle cut).

Each cell (setting, seed, size) takes the positive-scaling cell's D_syn, pi_sft and samples from
the same cache, builds D- (`synthrl.pairs`), scores every negative's step prefixes by rollouts
under BoK(pi_sft), and trains each method from pi_sft for as many optimizer steps as SFT took on
that D_syn (advantage-filtered RFT, like RFT, from pi_base). The analysis estimates each method's
k-fold data efficiency over SFT by the kit's verdict rules.
"""
from __future__ import annotations

import dataclasses
import math
import time

import pandas as pd

from synthrl import cells, pipeline, verdicts
from synthrl import pairs as P
from synthrl.cache import cache_key
from synthrl.config import NEGATIVE_METHODS, NegativeConfig, Preset, Setting, to_dict
from synthrl.credit import FIRST_PIT_DEFINITIONS, with_pool
from synthrl.preference import DIAGNOSTICS
from synthrl.presets import get_preset
from synthrl.results import provenance, records, table
from synthrl.studies import positive_scaling as positive

STUDY = "negative_scaling"
PAPER_K = 8.0  # paper.md, claim 5: per-step DPO is worth 8x the synthetic data


def per_step_name(definition: str) -> str:
    return f"per-step DPO ({definition})"


def method_names(cfg: NegativeConfig) -> list[str]:
    """Every method the config runs, by the name its rows carry."""
    return [*(per_step_name(d) for d in cfg.first_pits), *cfg.methods]


def _train_budget(preset: Preset, n_sft_rows: int) -> int:
    """SFT's optimizer steps on the cell's D_syn: every method trains as long (equal compute)."""
    return cells.train_config(preset, n_sft_rows).max_steps


def _pooled(task, problems: dict, negatives: list[dict], credits: list, sampled: list[dict]) -> list:
    """Fig. 10: each negative's credit with pi_sft's samples of its problem (positive and negative)
    counted as rollouts from every prefix they begin with (`credit.with_pool`: the trace itself left out)."""
    by_uid: dict[str, list[str]] = {}
    for r in sampled:
        by_uid.setdefault(r["uid"], []).append(r["completion"])
    return with_pool(task, [problems[r["uid"]] for r in negatives], credits, by_uid)


def _price(credits: list) -> tuple[int, int]:
    """What scoring traces by rollouts cost: rollouts, and the tokens they sampled."""
    return sum(sum(c.rollouts) for c in credits), sum(c.sampled_tokens for c in credits)


# Fig. 7's step labels (the arith world's exact labels) and the policies Q is compared under
Q_LABELS = ("right", "irrelevant", "wrong")


def q_rows(sp: Preset, test: list, sft: str, policies: dict[str, str], n: int, seed: int) -> list[dict]:
    """Fig. 7: Q_BoK of every rolled-out step prefix of pi_sft's first sample of each of n test problems,
    under each policy (name -> checkpoint), with the exact label of the step that ends the prefix. One row
    per prefix and policy (`sample`: the trace, `step`: steps in the prefix). A finished prefix is scored
    by its reward under every policy alike, so it is left out."""
    task = pipeline.make_task(sp)
    first: dict[str, str] = {}
    for r in pipeline.samples(sp, sft, test[:n], seed):
        first.setdefault(r["uid"], r["completion"])
    problems = [p for p in test[:n] if p.uid in first]
    traces = [first[p.uid] for p in problems]
    labels = [task.label_steps(p, t) for p, t in zip(problems, traces)]
    scored = dataclasses.replace(sp, credit=sp.negative.credit)
    rows = []
    for method, ckpt in policies.items():
        for i, (c, lab) in enumerate(zip(pipeline.credits(scored, ckpt, problems, traces), labels)):
            for step in range(1, min(len(c.steps), len(lab)) + 1):
                if c.exact[step] is None:
                    rows.append({"method": method, "metric": "q_prefix", "value": float(c.q[step]), "step": step,
                                 "sample": i, "label": lab[step - 1]})
    return rows


def cell(preset: Preset, setting: Setting, seed: int, size: int, base: str, score_q: bool = False) -> list[dict]:
    """One cell: every method's test error, its training data's size and cost, the preference trainer's
    diagnostics, and (if `score_q`) Fig. 7's Q per step under pi_sft, per-step DPO and naive DPO."""
    cfg = preset.negative
    sp = cells.setting_preset(preset, setting)
    task = pipeline.make_task(sp)
    problems = pipeline.d_syn(sp, n=size, seed=seed)
    by_uid = {p.uid: p for p in problems}
    test = pipeline.test_problems(sp)
    sft_rows = pipeline.sft_rows(sp, problems)
    sft = cells.finetune(sp, "pi_sft", base, sft_rows, seed, len(sft_rows))  # the positive cell's
    sampled = pipeline.samples(sp, sft, problems, seed)
    plus = pipeline.d_plus(sampled, sp.sampling.positives_per_problem)
    minus = P.d_minus(sampled, cfg.negatives_per_problem)
    chosen = P.chosen_by_problem(cfg.chosen, problems, plus)
    scored = dataclasses.replace(sp, credit=cfg.credit)
    neg_credit = pipeline.credits(scored, sft, [by_uid[r["uid"]] for r in minus], [r["completion"] for r in minus])
    steps = _train_budget(sp, len(sft_rows))
    dpo = dataclasses.replace(cfg.dpo, max_steps=steps * cfg.steps_multiple, seed=seed)
    common = {"setting": setting.name, "task": sp.task, "seed": seed, "n_problems": size}
    # The cost on the second axis, sampled tokens: pi_sft's samples of D_syn's problems (D+ and D- come from
    # them: RFT pays them too), and on top the rollouts that score a method's prefixes
    samples_cost = pipeline.sampled_tokens(sft, [r["completion"] for r in sampled], sp.sampling.max_new_tokens)
    rollouts, rollout_tokens = _price(neg_credit)
    rows = [{**common, "method": "D-", "metric": "negatives", "value": len(minus)},
            {**common, "method": "D-", "metric": "rollouts", "value": rollouts},
            {**common, "method": "D-", "metric": "rollout_tokens", "value": rollout_tokens},
            {**common, "method": "SFT", "metric": "sampled_tokens", "value": 0},
            {**common, "method": "RFT", "metric": "sampled_tokens", "value": samples_cost}]

    trained: dict[str, str] = {}

    def preference(method: str, built: list[dict], loss: str = "dpo", cost: tuple[int, int] = (0, 0)) -> None:
        if not built:  # no pit found, or no positive to pair with: nothing to train on
            rows.append({**common, "method": method, "metric": "pairs", "value": 0})
            return
        ckpt = trained[method] = pipeline.pi_preference(sp, sft, built, dataclasses.replace(dpo, loss=loss))
        for r in finish(method, ckpt, len(built), cost).get("log", []):
            for m in DIAGNOSTICS:
                rows.append({**common, "method": method, "metric": f"dpo_{m}", "value": r[m], "step": r["step"]})

    def finish(method: str, ckpt: str, n_data: int, cost: tuple[int, int], sampled_cost: int | None = None) -> dict:
        """The method's rows, its cost (rollouts, their tokens) on top of pi_sft's samples unless
        `sampled_cost` says what it sampled; returns its training log."""
        err = pipeline.evaluate_checkpoint(sp, ckpt, test)["test_error"]
        log = pipeline.train_log(ckpt)
        spent = samples_cost + cost[1] if sampled_cost is None else sampled_cost
        rows.extend([{**common, "method": method, "metric": "test_error", "value": err, "n_samples": n_data,
                      "n_test": len(test)},
                     {**common, "method": method, "metric": "rollouts", "value": cost[0]},
                     {**common, "method": method, "metric": "sampled_tokens", "value": spent},
                     {**common, "method": method, "metric": "train_wall_s", "value": log["wall_s"]}])
        return log

    for definition in cfg.first_pits:
        preference(per_step_name(definition),
                   P.per_step_pairs(task, minus, P.estimated_pits(neg_credit, definition), chosen),
                   cost=(rollouts, rollout_tokens))
    if "oracle per-step DPO" in cfg.methods:
        preference("oracle per-step DPO", P.per_step_pairs(task, minus, P.oracle_pits(task, by_uid, minus), chosen))
    if "pooled per-step DPO" in cfg.methods:
        pooled = _pooled(task, by_uid, minus, neg_credit, sampled)
        preference("pooled per-step DPO", P.per_step_pairs(
            task, minus, P.estimated_pits(pooled, cfg.first_pits[0]), chosen), cost=(rollouts, rollout_tokens))
    for method, loss in (("naive DPO", "dpo"), ("DPOP", "dpop")):
        if method in cfg.methods:
            preference(method, P.naive_pairs(minus, chosen), loss)
    if {"AWR", "advantage-filtered RFT"} & set(cfg.methods):
        pos_credit = pipeline.credits(scored, sft, [by_uid[r["uid"]] for r in plus], [r["completion"] for r in plus])
        traces, credits = plus + minus, pos_credit + neg_credit
        cost = _price(credits)  # the positives' rollouts on top of the negatives'
        if "AWR" in cfg.methods:
            weighted = [{"prompt": r["prompt"], "steps": c.steps, "weights": P.awr_weights(c, cfg.awr_beta).tolist()}
                        for r, c in zip(traces, credits) if c.steps]
            ckpt = pipeline.pi_awr(sp, sft, weighted, dataclasses.replace(sp.sft, max_steps=steps), seed)
            finish("AWR", ckpt, len(weighted), cost)
        if "advantage-filtered RFT" in cfg.methods:
            kept = [{"prompt": traces[i]["prompt"], "completion": traces[i]["completion"]}
                    for i in P.advantage_filter(credits, cfg.filter_drop)]
            ckpt = cells.rft_checkpoint(sp, base, kept, seed, len(sft_rows))  # RFT's budget rule
            finish("advantage-filtered RFT", ckpt, len(kept), cost)
    if "GRPO" in cfg.methods:  # at the preference methods' rate: every RL method from pi_sft moves it as gently
        ckpt = pipeline.pi_grpo(sp, sft, problems, dataclasses.replace(sp.sft, lr=cfg.dpo.lr), cfg.grpo_generations,
                                cfg.grpo_epochs, seed)
        finish("GRPO", ckpt, len(problems), (0, 0), sampled_cost=pipeline.train_log(ckpt)["tokens"])
        online = pipeline.grpo_steps(cfg.grpo_epochs, size) * 2 * cfg.grpo_generations
        rows.append({**common, "method": "GRPO", "metric": "online_samples", "value": online})
    if score_q and cfg.q_traces and hasattr(task, "label_steps"):  # exact labels: our worlds only
        policies = {"SFT": sft, **{m: trained[m] for m in (per_step_name(cfg.first_pits[0]), "naive DPO")
                                   if m in trained}}
        rows += [{**common, **r} for r in q_rows(sp, test, sft, policies, cfg.q_traces, seed)]
    return rows


def with_overrides(preset: Preset | str, settings=None, **negative) -> Preset:
    """The preset with the study's knobs replaced: the settings (as the positive study's), and any
    `NegativeConfig` field (sizes and seeds are the methods' cells; beta goes to the DPO config,
    n_rollouts to the credit config)."""
    preset = cells.with_overrides(preset, settings=settings)
    negative = {k: tuple(v) if k in ("sizes", "seeds", "first_pits", "methods") else v for k, v in negative.items()}
    if "beta" in negative:
        negative["dpo"] = dataclasses.replace(negative.get("dpo", preset.negative.dpo), beta=negative.pop("beta"))
    if "n_rollouts" in negative:
        negative["credit"] = dataclasses.replace(preset.negative.credit, n_rollouts=negative.pop("n_rollouts"))
    return dataclasses.replace(preset, negative=dataclasses.replace(preset.negative, **negative))


def cell_preset(preset: Preset, size: int, sizes) -> Preset:
    """The preset of one cell: at the smallest size, `smallest_size_methods` run beside `methods`."""
    cfg = preset.negative
    extra = tuple(m for m in cfg.smallest_size_methods if m not in cfg.methods) if size == min(sizes) else ()
    return dataclasses.replace(preset, negative=dataclasses.replace(cfg, methods=cfg.methods + extra,
                                                                    smallest_size_methods=()))


def run(preset: Preset | str = "cpu", progress: bool = False, ray: str | None = None,
        only_sizes: tuple[int, ...] | None = None, **overrides) -> pd.DataFrame:
    """The tidy results of every cell, with the positive-scaling rows (pi_base, SFT, RFT) at every
    scaling size and provenance. The positive rows are the positive-scaling study's cells (read where
    committed, `positive_scaling.run`); each negative cell's rows are written as it finishes (`cells.run_cells`)
    and a committed cell of the same config is read. `only_sizes` computes the missing cells of those sizes
    only (`df.attrs["missing_cells"]` names the rest). Cells run as the scaling study's do (`synthrl.pool`:
    its `workers` here, or on the Ray cluster at `ray`)."""
    preset = with_overrides(get_preset(preset) if isinstance(preset, str) else preset, **overrides)
    start = time.perf_counter()
    base = cells.shared_base(preset)
    cfg = preset.negative
    sizes, seeds = cfg.sizes or preset.scaling.sizes, cfg.seeds or preset.scaling.seeds
    scaling_sizes = tuple(sorted(set(preset.scaling.sizes) | (set(sizes) - set(preset.scaling.sft_sizes))))
    pos = positive.run(preset, progress=progress, ray=ray, only_sizes=only_sizes, sizes=scaling_sizes, seeds=seeds)
    rows = records(pos[pos.method.isin(["SFT", "RFT", "pi_sft", "pi_base"])])
    jobs = [(cell_preset(preset, n, sizes), s, seed, n, base, n == max(sizes) and seed == seeds[0])
            for n in sorted(sizes) for s in preset.scaling.settings for seed in seeds]
    named = [(f"{s.name}__seed{seed}__n{n}", cells.cell_key(STUDY, p, s, seed, n, q, unused=("star", "spurious")))
             for p, s, seed, n, _, q in jobs]
    got, missing = cells.run_cells(STUDY, preset, cell, jobs, named, "negative-scaling cells", progress, ray,
                                   compute=None if only_sizes is None else (lambda job: job[3] in only_sizes))
    rows = [{**r, "study": STUDY, "preset": preset.name} for r in rows + got]
    df = table(rows, provenance(cache_key(to_dict(preset)), time.perf_counter() - start))
    df = df.sort_values(["setting", "method", "metric", "n_problems", "seed"], kind="stable", ignore_index=True)
    df.attrs["missing_cells"] = pos.attrs.get("missing_cells", []) + missing
    return df


# ---- analysis ------------------------------------------------------------------------------------

def efficiencies(results: pd.DataFrame, n_boot: int = 1000) -> pd.DataFrame:
    """k of every method over SFT per setting, at equal |D_syn| (the positive study's rules)."""
    trained = results[(results.metric == "test_error") & ~results.method.isin(["SFT", "pi_base"])]
    return cells.efficiencies(results, n_boot, methods=tuple(trained.method.unique()))


def _trend(results: pd.DataFrame, setting: str, method: str) -> tuple[float, float, float] | None:
    """The slope of (method - SFT) test error against log2 |D_syn|, paired by seed and size, with a
    95% t interval: naive DPO "gets worse with scale" when it is > 0."""
    from scipy import stats

    m = cells.errors(results, setting, method).set_index(["n_problems", "seed"])["value"]
    s = cells.errors(results, setting, "SFT").set_index(["n_problems", "seed"])["value"]
    diff = (m - s).dropna()
    if diff.index.get_level_values(0).nunique() < 2:
        return None
    x = [math.log2(n) for n in diff.index.get_level_values(0)]
    fit = stats.linregress(x, diff.to_numpy())
    if len(diff) < 3:
        return fit.slope, float("nan"), float("nan")
    t = stats.t.ppf(0.975, len(diff) - 2)
    return fit.slope, fit.slope - t * fit.stderr, fit.slope + t * fit.stderr


def claims(results: pd.DataFrame, n_boot: int = 1000) -> pd.DataFrame:
    """C5 (k of per-step DPO over SFT under each declared first pit; naive DPO against scale), C7 (Fig.
    10: pooled advantages), C8 (Fig. 11: advantage-filtered RFT beats RFT) and C6 (Fig. 7: Q per step by
    exact label), per setting."""
    rows = []
    eff = efficiencies(results, n_boot)
    eff = eff.set_index(["setting", "method"]) if not eff.empty else eff
    for setting in results.setting.dropna().unique():
        def add(claim, paper, ours, verdict, methods=()):  # methods: those compared cell by cell (the gate's note)
            rows.append({"setting": setting, "claim": claim, "paper": paper, "ours": ours, "verdict": verdict,
                         **({"_methods": methods} if methods else {})})

        stuck = verdicts.at_bound(cells.errors(results, setting, "SFT")["value"])
        for method in results.method.dropna().unique():
            if not str(method).startswith("per-step DPO") or (setting, method) not in eff.index:
                continue
            add(f"Fig. 5: {method} matches SFT on 8x the D_syn", "k = 8",
                *cells.k_row(eff.loc[(setting, method)], PAPER_K, stuck))
        start = len(rows)  # the claims below: every method trained from pi_sft, judged where SFT beats pi_base
        judged = cells.judged_rows(results, setting)
        trend = _trend(judged, setting, "naive DPO")
        if trend is not None:
            slope, lo, hi = trend
            ours = f"naive DPO - SFT error: {slope:+.3f} per doubling [{lo:+.3f}, {hi:+.3f}]"
            add("Fig. 5c: naive DPO does not help and gets worse with scale", "slope > 0", ours,
                verdicts.NOT_TESTABLE if stuck else verdicts.interval(lo, hi, (0.0, math.inf), 0.0), ("naive DPO",))
        for method, other, claim in (
                ("pooled per-step DPO", per_step_name("min"), "Fig. 10: advantages from pi_sft's samples too "
                                                              "improve per-step DPO"),
                ("advantage-filtered RFT", "RFT", "Fig. 11: advantage-filtered RFT beats RFT")):
            d = _difference(judged, setting, method, other)
            if d is not None:
                mean, lo, hi = d
                verdict = verdicts.NOT_TESTABLE if stuck else verdicts.interval(lo, hi, (-math.inf, 0.0), 0.0)
                add(claim, "lower error", f"{method} - {other}: {mean:+.3f} [{lo:+.3f}, {hi:+.3f}] over sizes and seeds",
                    verdict, (method, other))
        _q_claims(judged, setting, add, n_boot)
        cells.gate_verdicts(rows, results, setting, start)
    return pd.DataFrame(rows)


def q_gains(results: pd.DataFrame, setting: str, n_boot: int = 1000) -> pd.DataFrame:
    """Fig. 7's numbers: for each policy and step label, the mean Q of the prefixes ending at such steps,
    and the mean gain over pi_sft (SFT) on the same prefixes with a 95% bootstrap interval that resamples
    traces (a trace's prefixes move together; n_boot 0: no interval, as the figure needs none). Also
    per-step DPO's gain minus naive DPO's."""
    import numpy as np

    q = results[(results.setting == setting) & (results.metric == "q_prefix")]
    if q.empty or "SFT" not in set(q.method):
        return pd.DataFrame(columns=["method", "label", "n_prefixes", "q", "gain", "gain_lo", "gain_hi"])
    wide = q.pivot_table(index=["sample", "step", "label"], columns="method", values="value").reset_index()
    policies = [m for m in q.method.unique() if m != "SFT"]
    for m in policies:
        wide[m + " gain"] = wide[m] - wide["SFT"]
    contrasts = {m + " gain": m for m in policies}
    per_step = [m for m in policies if str(m).startswith("per-step DPO")]
    if per_step and "naive DPO" in policies:
        name = f"{per_step[0]} - naive DPO"
        wide[name + " gain"] = wide[per_step[0]] - wide["naive DPO"]
        contrasts[name + " gain"] = name
    rng = np.random.default_rng(0)
    traces = wide["sample"].unique()
    draws = [rng.choice(traces, len(traces)) for _ in range(n_boot)]
    out = []
    for label in Q_LABELS:
        at = wide[wide.label == label]
        if at.empty:
            continue
        by_trace = at.groupby("sample")
        sums, counts = by_trace.sum(numeric_only=True), by_trace.size()
        for column, method in contrasts.items():
            boot = [sums[column].reindex(d).sum() / counts.reindex(d).sum() for d in draws
                    if counts.reindex(d).sum() > 0]
            lo, hi = np.nanpercentile(boot, [2.5, 97.5]) if boot else (float("nan"), float("nan"))
            out.append({"method": method, "label": label, "n_prefixes": len(at),
                        "q": float(at[method].mean()) if method in at else float("nan"),
                        "gain": float(at[column].mean()), "gain_lo": float(lo), "gain_hi": float(hi)})
        out.append({"method": "SFT", "label": label, "n_prefixes": len(at), "q": float(at["SFT"].mean()),
                    "gain": 0.0, "gain_lo": 0.0, "gain_hi": 0.0})
    return pd.DataFrame(out)


def _q_claims(results: pd.DataFrame, setting: str, add, n_boot: int) -> None:
    """C6 (Fig. 7), fixed before the run: per-step DPO raises Q over pi_sft at steps of every exact label
    (one verdict per label), and at needed (right) steps more than naive DPO does."""
    gains = q_gains(results, setting, n_boot)
    if gains.empty:
        return
    q = results[(results.setting == setting) & (results.metric == "q_prefix")]["value"]
    stuck = verdicts.at_bound(q)
    per_step = next((m for m in gains.method.unique() if str(m).startswith("per-step DPO") and " - " not in m), None)
    judged = [(per_step, label, f"Fig. 7: {per_step} raises Q at {label} steps") for label in Q_LABELS]
    judged.append((f"{per_step} - naive DPO", "right", "Fig. 7: per-step DPO raises Q at needed (right) steps more "
                                                       "than naive DPO, which raises it only at irrelevant ones"))
    for method, label, claim in judged:
        g = gains[(gains.method == method) & (gains.label == label)]
        if per_step is None or g.empty:
            continue
        r = g.iloc[0]
        ours = f"gain in Q {r.gain:+.3f} [{r.gain_lo:+.3f}, {r.gain_hi:+.3f}] over {int(r.n_prefixes)} prefixes"
        add(claim, "gain > 0", ours, verdicts.NOT_TESTABLE if stuck else
            verdicts.interval(r.gain_lo, r.gain_hi, (0.0, math.inf), 0.0), tuple(method.split(" - ")))


def _difference(results: pd.DataFrame, setting: str, method: str, other: str):
    """Mean test-error difference (method - other) over cells paired by size and seed, with a 95% t
    interval; None when there are fewer than two pairs."""
    from scipy import stats

    a = cells.errors(results, setting, method).set_index(["n_problems", "seed"])["value"]
    b = cells.errors(results, setting, other).set_index(["n_problems", "seed"])["value"]
    diff = (a - b).dropna()
    if len(diff) < 2:
        return None
    ci = stats.ttest_1samp(diff.to_numpy(), 0.0).confidence_interval(0.95)
    return float(diff.mean()), float(ci.low), float(ci.high)


def cost_points(results: pd.DataFrame) -> pd.DataFrame:
    """Each method's mean test error (and its standard error) over seeds beside the mean tokens it sampled,
    per setting and |D_syn| where the methods ran: the second cost axis."""
    tokens = results[results.metric == "sampled_tokens"].groupby(["setting", "method", "n_problems"])["value"].mean()
    errors = cells.mean_errors(results).set_index(["setting", "method", "n_problems"])
    both = errors.join(tokens.rename("tokens"), how="inner").reset_index()
    return both[["setting", "method", "n_problems", "tokens", "mean", "sem"]]


def preference_log(results: pd.DataFrame) -> pd.DataFrame:
    """The preference trainer's per-step diagnostics at the largest size (every seed and setting)."""
    log = results[results.metric.str.startswith("dpo_")]
    return log[log.n_problems == log.n_problems.max()] if not log.empty else log


def figures(results: pd.DataFrame) -> dict:
    """Figs. 5a/5b (per-step DPO against SFT and RFT), 5c (the pair constructions), 7 (Q by exact label),
    10 and 11, and the preference trainer's diagnostics, drawn from the numbers this module computes."""
    from synthrl import figures as draw

    means, fitted = cells.mean_errors(results), cells.fits(results)
    base, preset = cells.base_errors(results), str(results["preset"].iloc[0])
    present = list(means.method.unique())
    per_step = [m for m in present if str(m).startswith("per-step DPO")]

    def pick(*names):
        return [m for m in names if m in present]

    figs = {"fig5ab_negative_scaling": draw.method_errors(means, fitted, base, pick("SFT", "RFT", *per_step),
                                                         f"negative-data scaling, preset {preset}"),
            "fig5c_pair_constructions": draw.method_errors(
                means, fitted, base, pick("SFT", "naive DPO", "DPOP", per_step_name("min"), "oracle per-step DPO"),
                f"pair constructions, preset {preset}"),
            "fig10_fig11_advantages": draw.method_errors(
                means, fitted, base, pick(per_step_name("min"), "pooled per-step DPO", "RFT", "advantage-filtered RFT",
                                          "AWR"), f"advantages: pooled (Fig. 10), filtered RFT (Fig. 11), AWR; {preset}")}
    costs = cost_points(results)
    if not costs.empty:
        figs["negative_cost_tokens"] = draw.error_against_cost(
            costs, base, f"test error against sampled tokens (samples + rollouts), preset {preset}")
    gains = [q_gains(results, s, n_boot=0).assign(setting=s) for s in results.setting.dropna().unique()]
    gains = pd.concat([g for g in gains if not g.empty]) if any(not g.empty for g in gains) else None
    if gains is not None:
        shown = gains[~gains.method.str.contains(" - ")]
        figs["fig7_q_by_label"] = draw.q_by_label(shown, f"Fig. 7: Q per step by exact label, under each policy "
                                                         f"(pi_sft's test samples), preset {preset}")
    log = preference_log(results)
    if not log.empty:
        n = int(log.n_problems.max())
        figs["preference_diagnostics"] = draw.preference_diagnostics(
            log, f"preference training at |D_syn| = {n} (mean over seeds and settings), preset {preset}")
    return figs


def means_table(results: pd.DataFrame) -> pd.DataFrame:
    """Mean test error over seeds (+- its standard error) per method, one column per setting and size
    at which the methods ran, pi_base first: the table the README shows."""
    m = cells.mean_errors(results)
    sizes = sorted(m[m.method == per_step_name("min")].n_problems.unique()) or sorted(m.n_problems.unique())
    m = m[m.n_problems.isin(sizes) | (m.method == "pi_base")]
    m = m.assign(column=[f"{s} {'pi_base' if n == 0 else int(n)}" for s, n in zip(m.setting, m.n_problems)],
                 text=[f"{a:.3f} ± {b:.3f}" if c > 1 else f"{a:.3f}" for a, b, c in zip(m["mean"], m["sem"], m["count"])])
    wide = m[m.method != "pi_base"].pivot_table(index="method", columns="column", values="text", aggfunc="first",
                                               sort=False)
    base = m[m.method == "pi_base"].set_index("setting")["text"]
    listed = ["SFT", "RFT", *map(per_step_name, FIRST_PIT_DEFINITIONS), *NEGATIVE_METHODS]
    order = [x for x in listed if x in wide.index] + [x for x in wide.index if x not in listed]
    columns = [f"{s} {int(n)}" for s in m.setting.drop_duplicates() for n in sizes]
    wide = wide.reindex(index=order, columns=columns).fillna("")
    wide.loc["pi_base"] = [base.get(c.rsplit(" ", 1)[0], "") for c in columns]
    return wide.loc[["pi_base", *order]].rename_axis("method").reset_index()
