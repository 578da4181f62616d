"""The whole pipeline once: D_syn -> pi_base -> pi_sft -> D+ -> RFT, test error of each."""
from __future__ import annotations

import time

import pandas as pd

from synthrl import cells, pipeline, verdicts
from synthrl.cache import cache_key
from synthrl.config import Preset, to_dict
from synthrl.presets import get_preset
from synthrl.results import provenance, table

STUDY = "quickstart"


def run(preset: Preset | str = "cpu") -> pd.DataFrame:
    """Tidy results: test error per model, D+ yield, training losses, with provenance."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    start = time.perf_counter()
    d_syn, base, sft, sampled, plus, rft = pipeline.positive_run(preset)
    test = pipeline.test_problems(preset)

    def row(method: str, metric: str, value: float, step: int | None = None) -> dict:
        # n_problems is the D_syn budget a method drew on: RFT's D+ comes from D_syn's problems
        return {"study": STUDY, "preset": preset.name, "task": preset.task, "seed": preset.seed,
                "method": method, "n_problems": 0 if method == "pi_base" else len(d_syn),
                "step": step, "metric": metric, "value": value}

    rows = []
    for method, ckpt in (("pi_base", base), ("SFT", sft), ("RFT", rft)):
        scored = pipeline.evaluate_checkpoint(preset, ckpt, test)
        rows.append({**row(method, "test_error", scored["test_error"]), "n_test": len(test)})
        rows += [row(method, m, v) for m, v in scored.items() if m == "no_answer" or m.startswith("test_error_")]
        # per test problem, the paired outcomes the claims compare (McNemar)
        rows += [{**row(method, "solved", float(c)), "item": i} for i, c in enumerate(scored["correct"])]
        if method != "pi_base":  # the finetuned policies only, to keep the demo short
            k = preset.sampling.n
            rows.append(row(method, f"pass@{k}", pipeline.evaluate_pass_at_k(preset, ckpt, test, k)[f"pass@{k}"]))
        log = pipeline.train_log(ckpt)
        rows += [row(method, "train_loss", v, step=s) for s, v in log["losses"]]
        if log["wall_s"]:
            rows.append(row(method, "train_wall_s", log["wall_s"]))
    rows.append(row("SFT", "sample_accuracy", sum(r["correct"] for r in sampled) / len(sampled)))
    rows.append(row("RFT", "d_plus_size", len(plus)))
    rows.append(row("RFT", "d_plus_problems", len({r["uid"] for r in plus})))
    return table(rows, provenance(cache_key(to_dict(preset)), time.perf_counter() - start))


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """The table the demo prints: test error (greedy, under each reading), outputs with no answer found,
    and pass@k, one row per model."""
    metrics = [m for m in results.metric.unique() if m.startswith(("test_error", "pass@")) or m == "no_answer"]
    table = results[results.metric.isin(metrics)].pivot_table(index="method", columns="metric", values="value")
    return table.reindex(["pi_base", "SFT", "RFT"])[metrics]


def ledger(results: pd.DataFrame) -> pd.DataFrame:
    """`summary` as the README shows it: one row per model, named with D_syn's size."""
    table = summary(results)
    n_train = int(results.loc[results.method == "SFT", "n_problems"].iloc[0])
    n_test = int(results["n_test"].dropna().iloc[0])
    cells = lambda values, form: [form.format(v) if pd.notna(v) else "not measured" for v in values]  # noqa: E731
    names = {"test_error": f"test error (greedy, {n_test:,} held-out problems)", "no_answer": "outputs with no answer"}
    return pd.DataFrame({"model": ["pi_base", f"pi_sft (SFT on {n_train:,} D_syn problems)", "RFT (pi_base on D+)"],
                         **{names.get(m, m.replace("test_error_", "test error, ")):
                            cells(table[m], "{:.0f}" if m == "no_answer" else "{:.3f}") for m in table.columns}})


def figures(results: pd.DataFrame) -> dict:
    from synthrl import figures as draw

    return {"quickstart_test_error": draw.quickstart_test_error(results),
            "quickstart_training": draw.training_curves(results)}


CLAIM = "SFT on D_syn improves pi_base (the paper's regime: SFT lowers its base model's error)"


def claims(results: pd.DataFrame) -> pd.DataFrame:
    """The quickstart makes no claim of its own; one row says whether SFT on D_syn improves
    pi_base (the paper's regime: SFT improves its base model), by McNemar on the test problems."""
    err = results[results.metric == "test_error"].set_index("method")["value"]
    rows = results[results.metric == "solved"]
    solved = {m: cells.outcomes(rows[rows.method == m]) for m in ("pi_base", "SFT")}
    if len(solved["SFT"]) == 0 or len(solved["SFT"]) != len(solved["pi_base"]):
        return pd.DataFrame([{"claim": CLAIM, "paper": "lower error than pi_base",
                              "ours": "per-problem outcomes not recorded in these results (a run at this kit's "
                                      "HEAD records them)",
                              "verdict": verdicts.NOT_TESTABLE}])
    verdict, t = verdicts.paired(solved["pi_base"], solved["SFT"], +1)
    if verdicts.at_bound([err["pi_base"], err["SFT"]]):
        verdict = verdicts.NOT_TESTABLE
    return pd.DataFrame([{
        "claim": CLAIM,
        "paper": "lower error than pi_base",
        "ours": f"pi_base {err['pi_base']:.3f}, SFT {err['SFT']:.3f} on {len(solved['SFT'])} test problems "
                f"(McNemar: {t['c']} gained, {t['b']} lost, p = {t['p']:.3g})",
        "verdict": verdict}])
