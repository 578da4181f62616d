"""RFT's spurious correlations: the spurious fractions of hand-labelled positives, the
pools and arms Fig. 4 trains on, the advantage cleaning, and the study end to end in the smoke preset."""
import math

import pytest

from arith_helpers import problem_with_distractor, step_text
from synthrl import cells, spurious
from synthrl.credit import TraceCredit
from synthrl.config import SpuriousConfig
from synthrl.presets import get_preset
from synthrl.studies import rft_spurious as rs
from synthrl.tasks.arith import ArithConfig, ArithWorld
from synthrl.verdicts import NOT_TESTABLE, VERDICTS


@pytest.fixture(scope="module")
def hand_made():
    """Four positives of one problem, each with a right final answer: the teacher's, one with a
    distractor step first (irrelevant), one whose first step has its operation swapped (wrong; the
    answer comes out right anyway), and one with both."""
    world = ArithWorld(ArithConfig())
    p, distractor = problem_with_distractor(world)
    steps = p.solution.split("\n")
    first = p.meta["needed_steps"][0]
    wrong = step_text(p, first, swap_op=True)
    texts = {"clean": p.solution, "irrelevant": "\n".join([step_text(p, distractor), *steps]),
             "wrong": "\n".join([wrong, *steps[1:]]), "both": "\n".join([step_text(p, distractor), wrong, *steps[1:]])}
    rows = [{"uid": p.uid, "prompt": world.prompt(p), "completion": t, "kind": k} for k, t in texts.items()]
    assert all(world.is_correct(p, t) for t in texts.values())  # the verifier passes every one
    return world, p, rows


def test_spurious_fractions_match_the_hand_made_labels(hand_made):
    world, p, rows = hand_made
    labels = spurious.step_labels(world, {p.uid: p}, rows)
    assert [spurious.is_spurious(lab) for lab in labels] == [False, True, True, True]
    assert spurious.fractions(labels) == {"wrong": 0.5, "irrelevant": 0.5, "spurious": 0.75}
    assert spurious.fractions(labels, ("wrong",))["spurious"] == 0.5  # the definition is the config's
    assert all(math.isnan(v) for v in spurious.fractions([]).values())


def test_clean_pool_holds_no_positive_with_a_wrong_step_and_the_pools_split_d_plus(hand_made):
    world, p, rows = hand_made
    labels = spurious.step_labels(world, {p.uid: p}, rows)
    pools = spurious.label_pools(rows, labels)
    assert [r["kind"] for r in pools["clean (exact labels)"]] == ["clean"]
    assert [r["kind"] for r in pools["spurious only"]] == ["irrelevant", "wrong", "both"]
    only_wrong = spurious.label_pools(rows, labels, ("wrong",))  # irrelevant steps allowed in the clean pool
    assert [r["kind"] for r in only_wrong["clean (exact labels)"]] == ["clean", "irrelevant"]
    for pool in (pools, only_wrong):
        clean = spurious.step_labels(world, {p.uid: p}, pool["clean (exact labels)"])
        assert not any("wrong" in lab for lab in clean)


def test_arms_are_drawn_at_one_size_from_their_own_pools():
    pools = {"a": list(range(10)), "b": list(range(100, 104)), "c": list(range(200, 230))}
    arms = spurious.equal_arms(pools, seed=0)
    assert {len(v) for v in arms.values()} == {4}
    assert all(set(arms[k]) <= set(pools[k]) for k in pools)
    assert arms == spurious.equal_arms(pools, seed=0) and arms["c"] != spurious.equal_arms(pools, seed=1)["c"]
    assert {len(v) for v in spurious.equal_arms(pools, seed=0, cap=2).values()} == {2}


def test_advantage_cleaning_drops_a_positive_whose_q_falls_past_the_threshold():
    """Q (BoK, K = 5) from 8 rollouts per prefix: a steady trace is kept; one whose success rate falls
    from 6/8 to 1/8 at its second step (Q 0.999 -> 0.487) is dropped at threshold -0.2."""
    steady = TraceCredit("u", ["a", "b"], [[True] * 6 + [False] * 2] * 3, [None, None, None])
    falls = TraceCredit("u", ["a", "b"], [[True] * 6 + [False] * 2] * 2 + [[True] + [False] * 7], [None, None, None])
    assert spurious.advantage_kept([steady, falls], -0.2) == [True, False]
    assert spurious.advantage_kept([falls], -0.6) == [True]


def test_lucky_rate_counts_right_answers_among_samples_with_a_wrong_step():
    labels = [["wrong", "right"], ["right", "right"], ["wrong", "wrong"], ["right", "wrong"]]
    assert spurious.lucky_rate(labels, [True, True, False, False]) == (1 / 3, 3)
    assert math.isnan(spurious.lucky_rate([["right"]], [True])[0])


def test_config_is_validated_before_any_run():
    with pytest.raises(ValueError):
        SpuriousConfig(counts=(1, 2), reference_count=4)
    with pytest.raises(ValueError):
        SpuriousConfig(counts=(1, 2, 4), reference_count=4)  # the reference must lie below the largest count
    with pytest.raises(ValueError):
        SpuriousConfig(spurious_labels=("right",))


@pytest.fixture(scope="module")
def results(module_run_home):
    return rs.run("smoke", seeds=(0, 1))


def test_the_study_records_every_count_and_arm_with_its_fractions(results):
    cfg = get_preset("smoke").spurious
    for setting in results.setting.dropna().unique():
        r = results[results.setting == setting]
        for seed in (0, 1):
            s = r[r.seed == seed]
            rft = s[(s.method == "RFT") & (s.metric == "test_error")].sort_values("positives_per_problem")
            assert list(rft.positives_per_problem) == list(cfg.counts)
            assert rft.n_samples.is_monotonic_increasing  # more positives allowed: D+ never shrinks
            d_plus = s[(s.method == "D+") & (s.on == "D+")]
            assert set(d_plus.metric) == {f"{k}_fraction" for k in spurious.KINDS}
            arms = s[s.method.isin([rs.arm_name(a) for a in rs.ARMS]) & (s.on == "D+")
                     & (s.metric == "spurious_fraction")]
            assert len(arms) == len(rs.ARMS) and arms.n_samples.nunique() == 1  # Fig. 4: one size
            clean = s[(s.method == rs.arm_name("clean (exact labels)")) & (s.metric == "wrong_fraction")
                      & (s.on == "D+")]["value"]
            assert (clean.fillna(0) == 0).all()
            pi_sft = s[s.method == "pi_sft"].set_index("metric")["value"]
            assert 0 <= pi_sft["sample_accuracy"] <= 1 and pi_sft["chance_rate"] == 1 / 10
    assert set(results[results.method == "pi_base"].metric) == {"test_error", "solved"}  # solved: the regime gate


def test_claims_are_complete_and_judged_by_the_rules(results):
    claims = rs.claims(results)
    assert len(claims) == 6 * results.setting.nunique() and claims.verdict.isin(VERDICTS).all()
    assert claims.claim.str.contains("share of D\+'s positives with a wrong step grows").sum() == results.setting.nunique()
    if not any(cells.in_regime(results, s)[0] for s in results.setting.dropna().unique()):  # the regime gate
        assert (claims.verdict == NOT_TESTABLE).all()
    errors = results[(results.metric == "test_error") & (results.method != "pi_base")]["value"]
    if (errors == 1.0).all():  # smoke: nothing learns, so no comparison of test errors can show an effect
        assert (claims[~claims.claim.str.contains("holds positives")].verdict == NOT_TESTABLE).all()
    assert set(rs.figures(results)) == {"fig2c_positives_per_problem", "rft_spurious_fractions", "fig4_spurious_arms"}


def test_the_answer_space_probe_pretrains_a_base_for_another_m(module_run_home):
    """Another M is another world and vocabulary: the probe's rows say which M they measured, with its
    chance rate, and every world the preset reads (pi_base's too) has that M."""
    from synthrl.probes import lucky

    preset = rs.with_overrides("smoke", max_value=12)
    assert {w.max_value for w in (preset.world, *preset.pretrain_worlds)} == {12}
    assert all(s.world is None or s.world.max_value == 12 for s in preset.scaling.settings)
    rows = lucky.measure("smoke", 12)
    by = {(r["metric"], r.get("positives_per_problem")): r["value"] for r in rows}
    assert by[("chance_rate", None)] == 1 / 12 and {r["answer_space"] for r in rows} == {12}
    assert ("wrong_fraction", 1) in by and ("wrong_fraction", max(get_preset("smoke").spurious.counts)) in by
