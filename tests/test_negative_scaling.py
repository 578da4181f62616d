"""The negative-data study in the smoke preset: every method runs from the same cell's pi_sft, its cost
and the preference trainer's diagnostics are recorded, and the claims are judged by the kit's rules."""
import dataclasses

import pandas as pd
import pytest

from synthrl import cells
from synthrl.presets import get_preset
from synthrl.studies import negative_scaling as ns
from synthrl.verdicts import NOT_TESTABLE, VERDICTS

# smoke, with the scaling study's sizes cut to the methods' two: no SFT cells beyond them to pay for
SMOKE = get_preset("smoke")
SMOKE = dataclasses.replace(SMOKE, scaling=dataclasses.replace(SMOKE.scaling, sizes=(16, 32)))


@pytest.fixture(scope="module")
def results(module_run_home):
    return ns.run(SMOKE, sizes=(16, 32), seeds=(0,), settings=("gsm8k-like",))


def test_every_method_is_scored_at_every_size(results):
    errors = results[results.metric == "test_error"]
    expected = {"SFT", "RFT", *ns.method_names(SMOKE.negative)}
    for n in (16, 32):
        assert set(errors[errors.n_problems == n].method) == expected
    assert errors["value"].between(0, 1).all()
    assert (errors[errors.method == "pi_base"].n_problems == 0).all()


def test_costs_count_the_rollouts_and_sampled_tokens_each_method_paid(results):
    cost = results[results.metric == "rollouts"].set_index(["method", "n_problems"])["value"]
    for n in (16, 32):
        assert cost[("D-", n)] > 0
        for d in SMOKE.negative.first_pits:
            assert cost[(ns.per_step_name(d), n)] == cost[("D-", n)]  # the rollouts that found the pits
        assert cost[("oracle per-step DPO", n)] == 0 and cost[("naive DPO", n)] == 0  # no rollouts needed
        assert cost[("AWR", n)] > cost[("D-", n)]  # positives scored too
    online = results[results.metric == "online_samples"].set_index("n_problems")["value"]
    tokens = results[results.metric.isin(["sampled_tokens", "rollout_tokens"])].set_index(
        ["method", "metric", "n_problems"])["value"]
    max_new = SMOKE.sampling.max_new_tokens
    drawn = results[(results.method == "pi_sft") & (results.metric == "sample_accuracy")].set_index("n_problems")
    for n in (16, 32):
        samples = tokens[("RFT", "sampled_tokens", n)]  # pi_sft's samples of the cell's problems: RFT's cost
        assert tokens[("SFT", "sampled_tokens", n)] == 0
        assert drawn.loc[n, "n_samples"] < samples <= drawn.loc[n, "n_samples"] * max_new
        for free in ("naive DPO", "DPOP", "oracle per-step DPO"):  # pairs from the samples alone
            assert tokens[(free, "sampled_tokens", n)] == samples
        paid = tokens[("D-", "rollout_tokens", n)]  # at least one token, at most max_new per rollout
        assert cost[("D-", n)] <= paid <= cost[("D-", n)] * max_new
        for d in SMOKE.negative.first_pits:
            assert tokens[(ns.per_step_name(d), "sampled_tokens", n)] == samples + paid
        assert tokens[("AWR", "sampled_tokens", n)] > samples + paid  # positives' rollouts on top
        assert online[n] == 8 * n  # GRPO: one pass over the problems, a group of 8 samples each, all counted
        assert online[n] <= tokens[("GRPO", "sampled_tokens", n)] <= online[n] * max_new
    points = ns.cost_points(results).set_index(["method", "n_problems"])  # the figure's: error beside tokens
    assert set(points.index) == {(m, n) for m in ("SFT", "RFT", *ns.method_names(SMOKE.negative)) for n in (16, 32)}
    assert points.loc[("SFT", 16), "tokens"] == 0 and points["mean"].between(0, 1).all()


def test_preference_diagnostics_start_at_the_reference(results):
    log = results[results.metric.str.startswith("dpo_")]
    for method in ("naive DPO", "DPOP", "oracle per-step DPO", *map(ns.per_step_name, SMOKE.negative.first_pits)):
        m = log[(log.method == method) & (log.n_problems == 32)]
        chosen = m[m.metric == "dpo_chosen_logratio"].sort_values("step")
        assert chosen["step"].iloc[0] == 1 and chosen["value"].iloc[0] == pytest.approx(0.0, abs=1e-5)
        assert m[m.metric == "dpo_pair_accuracy"]["value"].between(0, 1).all()


def test_claims_are_judged_and_not_testable_at_the_floor(results):
    claims = ns.claims(results, n_boot=50)
    assert len(claims) >= len(SMOKE.negative.first_pits) + 3 and claims.verdict.isin(VERDICTS).all()
    errors = results[(results.metric == "test_error") & (results.method == "SFT")]["value"]
    on_errors = ~claims.claim.str.startswith("Fig. 7")
    if (errors == 1.0).all():  # smoke: nothing learns, so no comparison of test errors can show an effect
        assert (claims[on_errors].verdict == NOT_TESTABLE).all()
    q = results[results.metric == "q_prefix"]["value"]  # Fig. 7 compares Q: testable unless all Q are 0 (or all 1)
    if cells.in_regime(results, "gsm8k-like")[0]:
        assert (claims[~on_errors].verdict == NOT_TESTABLE).all() == bool((q == 0).all() or (q == 1).all())
    else:  # the regime gate: SFT nowhere better than pi_base, so no claim about a method from pi_sft is judged
        assert (claims.verdict == NOT_TESTABLE).all()
    assert (~on_errors).sum() >= 1


def test_figures_draw_the_studys_own_numbers(results):
    """Each figure is drawn, one panel per setting, and the points of Fig. 5a/5b are the mean test errors of
    SFT, RFT and per-step DPO at each size, with pi_base's line at its error."""
    import numpy as np

    from synthrl import cells

    figs = ns.figures(results)
    assert set(figs) == {"fig5ab_negative_scaling", "fig5c_pair_constructions", "fig10_fig11_advantages",
                         "preference_diagnostics", "fig7_q_by_label", "negative_cost_tokens"}
    means, base = cells.mean_errors(results), cells.base_errors(results)
    panels = [ax for ax in figs["fig5ab_negative_scaling"].axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == list(results.setting.dropna().unique())
    for ax in panels:
        drawn = [np.asarray(line.get_ydata(), dtype=float) for line in ax.lines]
        at = means[means.setting == ax.get_title()]
        for method in ("SFT", "RFT", ns.per_step_name("min")):
            want = at[at.method == method].sort_values("n_problems")["mean"].to_numpy()
            assert any(len(d) == len(want) and np.allclose(d, want) for d in drawn), method
        level = base[base.setting == ax.get_title()]["value"].iloc[0]
        assert any(np.allclose(d, level) for d in drawn if len(d))  # pi_base's line


def test_fig7_scores_the_same_prefixes_under_each_policy_in_the_largest_first_seed_cell(results):
    q = results[results.metric == "q_prefix"]
    assert set(q.n_problems) == {32} and set(q.seed) == {0}
    assert set(q.method) == {"SFT", ns.per_step_name(SMOKE.negative.first_pits[0]), "naive DPO"}
    assert set(q.label) <= set(ns.Q_LABELS) and q["value"].between(0, 1).all()
    prefixes = {m: set(zip(g["sample"], g["step"])) for m, g in q.groupby("method")}
    assert len({frozenset(p) for p in prefixes.values()}) == 1 and prefixes["SFT"]  # paired, not empty


def test_q_gains_are_paired_by_prefix_and_resample_traces():
    import pandas as pd

    per_step = ns.per_step_name("min")
    rows = []
    for trace in range(6):
        for step, label in ((1, "right"), (2, "irrelevant"), (3, "wrong")):
            base = 0.1 * trace
            for method, gain in (("SFT", 0.0), (per_step, {"right": 0.2, "irrelevant": 0.1, "wrong": 0.05}[label]),
                                 ("naive DPO", {"right": 0.0, "irrelevant": 0.1, "wrong": 0.0}[label])):
                rows.append({"setting": "s", "metric": "q_prefix", "method": method, "sample": trace, "step": step,
                             "label": label, "value": base + gain})
    gains = ns.q_gains(pd.DataFrame(rows), "s", n_boot=200).set_index(["method", "label"])
    assert gains.loc[(per_step, "right"), "gain"] == pytest.approx(0.2)
    assert gains.loc[("naive DPO", "irrelevant"), "gain"] == pytest.approx(0.1)
    assert gains.loc[(f"{per_step} - naive DPO", "right"), "gain"] == pytest.approx(0.2)
    # every trace gains the same: the interval over resampled traces is the point
    assert gains.loc[(per_step, "wrong"), ["gain_lo", "gain_hi"]].tolist() == pytest.approx([0.05, 0.05])
    assert gains.loc[("SFT", "right"), "q"] == pytest.approx(0.25)


def test_config_rejects_unknown_methods_and_pits():
    from synthrl.config import NegativeConfig

    with pytest.raises(ValueError, match="unknown methods"):
        NegativeConfig(methods=("PPO",))
    with pytest.raises(ValueError, match="first_pits"):
        NegativeConfig(first_pits=("median",))


def test_explorer_reruns_one_cell_with_the_chosen_cut_and_rollouts(results):
    """The explorer's run: the chosen cut and rollouts per prefix reach the cell (fewer rollouts cost
    fewer, in multiples of the count); smoke's positive cells are shared with the module's run."""
    pytest.importorskip("ipywidgets")
    from synthrl.widgets import negative_explorer

    panel = negative_explorer(SMOKE)
    (left, right), run_button = panel.children[0].children, panel.children[1]
    size, beta, cut = left.children
    n_rollouts, setting = right.children
    size.value, cut.value, n_rollouts.value, setting.value = 16, "oracle", 2, "gsm8k-like"
    run_button.click()  # ipywidgets logs a handler's exception instead of raising: check the result
    df = panel.explorer_state["results"]
    assert df is not None
    methods = set(df[(df.metric == "test_error") & (df.n_problems == 16)].method)
    assert methods == {"SFT", "RFT", ns.per_step_name("min"), "oracle per-step DPO"}
    cost = df[(df.metric == "rollouts") & (df.method == "D-")]["value"].iloc[0]
    full = results[(results.metric == "rollouts") & (results.method == "D-") & (results.n_problems == 16)]["value"].iloc[0]
    assert cost % 2 == 0 and cost == full * 2 / SMOKE.negative.credit.n_rollouts


def _gate_results(helps_at: set[int]) -> pd.DataFrame:
    """pi_base solves 20 of 400 test problems; SFT 20 more at the sizes in `helps_at` (3 seeds), else the same
    20; a method's test error at every size."""
    rows = [{"setting": "w", "method": "pi_base", "metric": "solved", "n_problems": 0, "seed": 0, "item": i,
             "value": float(i < 20)} for i in range(400)]
    for n in (64, 128):
        for seed in range(3):
            rows += [{"setting": "w", "method": "SFT", "metric": "solved", "n_problems": n, "seed": seed, "item": i,
                      "value": float(i < (40 if n in helps_at else 20))} for i in range(400)]
            rows += [{"setting": "w", "method": m, "metric": "test_error", "n_problems": n, "seed": seed,
                      "value": 0.9 - 0.01 * seed} for m in ("SFT", "naive DPO")]
    return pd.DataFrame(rows)


def test_the_regime_gate_leaves_out_cells_where_sft_does_not_beat_pi_base():
    some = _gate_results({128})
    assert cells.in_regime(some, "w") == ([128], [64])
    judged = cells.judged_rows(some, "w")
    note = cells.premise_note(some, "w", cells.in_regime(some, "w")[1])
    assert set(judged[judged.method == "naive DPO"].n_problems) == {128}
    assert set(judged[judged.method == "SFT"].n_problems) == {64, 128}  # SFT's own curve: every size
    assert "n = 64" in note
    rows = [{"setting": "w", "ours": "x", "verdict": "reproduces"}]
    cells.gate_verdicts(rows, some, "w", 0)
    assert rows[0]["verdict"] == "reproduces" and "n = 64" in rows[0]["ours"]
    rows = [{"setting": "w", "ours": "x", "verdict": "does not reproduce"}]
    cells.gate_verdicts(rows, _gate_results(set()), "w", 0)
    assert rows[0]["verdict"] == NOT_TESTABLE  # never "does not reproduce" outside the regime
    unknown = _gate_results({64, 128})
    unknown = unknown[unknown.metric != "solved"]
    assert cells.premise_note(unknown, "w", [64]) == cells.NO_OUTCOMES
    # SFT alone at 64 (its measured range reaching below the methods' sizes): no claim's cells left out there
    sft_only = some[~((some.method == "naive DPO") & (some.n_problems == 64))]
    rows = [{"setting": "w", "ours": "x", "verdict": "reproduces"}]
    cells.gate_verdicts(rows, sft_only, "w", 0)
    assert rows == [{"setting": "w", "ours": "x", "verdict": "reproduces"}]
    # a claim comparing methods cell by cell names only the sizes all of them were trained at
    extra = pd.DataFrame([{"setting": "w", "method": "DPOP", "metric": "test_error", "n_problems": 128, "seed": s,
                           "value": 0.8} for s in range(3)])
    both = pd.concat([some, extra], ignore_index=True)
    rows = [{"setting": "w", "ours": "x", "verdict": "reproduces", "_methods": ("DPOP", "naive DPO")},
            {"setting": "w", "ours": "y", "verdict": "reproduces", "_methods": ("naive DPO",)}]
    cells.gate_verdicts(rows, both, "w", 0)
    assert rows[0] == {"setting": "w", "ours": "x", "verdict": "reproduces"} and "n = 64" in rows[1]["ours"]
    assert "_methods" not in rows[1]
    # k's note too: a method trained only inside the regime has no size left out
    eff = cells.efficiencies(both, n_boot=50, methods=("DPOP", "naive DPO")).set_index("method")
    assert eff.loc["DPOP", "outside_regime"] == [] and eff.loc["naive DPO", "outside_regime"] == [64]


def test_cells_are_committed_and_the_smallest_size_runs_its_extra_methods(results, monkeypatch):
    small = dict(sizes=(16, 32), seeds=(0,), settings=("gsm8k-like",), methods=("naive DPO",),
                 smallest_size_methods=("DPOP",))
    first = ns.run(SMOKE, **small)
    trained = first[first.metric == "test_error"]
    assert "DPOP" in set(trained[trained.n_problems == 16].method)
    assert "DPOP" not in set(trained[trained.n_problems == 32].method)

    def no_cell(*job):
        raise AssertionError("a committed cell was computed again")

    monkeypatch.setattr(ns, "cell", no_cell)
    monkeypatch.setattr(ns.positive, "cell", no_cell)
    again = ns.run(SMOKE, **small)
    shown = ["setting", "method", "metric", "n_problems", "seed", "value"]
    pd.testing.assert_frame_equal(first[shown].reset_index(drop=True), again[shown].reset_index(drop=True))
