"""The kit's verdict rules (synthrl.verdicts) and the regime targets (synthrl.regime), each rule on
constructed inputs that put it on both sides of its line."""
import math

import numpy as np
import pandas as pd
import pytest

from synthrl import verdicts as v
from synthrl.regime import RegimeTargets, check


@pytest.mark.parametrize("lo, hi, expected", [
    (0.045, 0.075, v.REPRODUCES),  # inside 0.05-0.15 (midpoint 0.06), excludes 0
    (0.002, 0.022, v.DOES_NOT),  # the audit's math-like exponent: excludes the paper's range
    (-0.01, 0.08, v.INCONCLUSIVE),  # holds both the paper's range and no effect
    (-0.05, -0.01, v.DOES_NOT),  # reversed
])
def test_interval_against_a_range(lo, hi, expected):
    assert v.interval(lo, hi, (0.05, 0.15), 0.0) == expected


def test_against_a_range_the_point_estimate_must_lie_inside_it():
    """The learning-rate arm's alpha 0.040 [0.026, 0.053] reaches into 0.05-0.15 but lies below it."""
    assert v.interval(0.026, 0.053, (0.05, 0.15), 0.0, point=0.040) == v.INCONCLUSIVE
    assert v.interval(0.026, 0.053, (0.05, 0.15), 0.0) == v.INCONCLUSIVE  # midpoint 0.0395
    assert v.interval(0.030, 0.090, (0.05, 0.15), 0.0, point=0.060) == v.REPRODUCES
    assert v.interval(0.140, 0.200, (0.05, 0.15), 0.0, point=0.160) == v.INCONCLUSIVE  # above the range


def test_interval_against_a_point_value():
    assert v.interval(0.58, 1.08, 2.0, 1.0) == v.DOES_NOT  # the audit's k: excludes 2, holds 1
    assert v.interval(1.3, 2.9, 2.0, 1.0) == v.REPRODUCES
    assert v.interval(0.8, 2.5, 2.0, 1.0) == v.INCONCLUSIVE
    assert v.interval(2.5, 9.0, 2.0, 1.0) == v.DOES_NOT  # ahead of the paper, but excludes its 2


def test_one_sided_claims_use_an_open_range():
    assert v.interval(1.31, 2.84, (1.0, math.inf), 1.0) == v.REPRODUCES
    assert v.interval(0.5, 0.9, (1.0, math.inf), 1.0) == v.DOES_NOT
    assert v.interval(-0.3, -0.03, (-math.inf, 0.0), 0.0) == v.REPRODUCES
    assert v.interval(float("nan"), 1.0, 2.0, 1.0) == v.NOT_TESTABLE


def test_floor_and_ceiling_are_not_testable():
    assert v.at_bound([1.0, 1.0, 1.0]) and v.at_bound([0.0, 0.0]) and v.at_bound([])
    assert not v.at_bound([1.0, 0.97]) and not v.at_bound([0.0, 1.0])


def test_absence_counts_only_where_the_effect_appeared_elsewhere():
    assert v.absence(absent_here=True, present_elsewhere=False) == v.NOT_TESTABLE
    assert v.absence(absent_here=True, present_elsewhere=True) == v.REPRODUCES
    assert v.absence(absent_here=False, present_elsewhere=True) == v.DOES_NOT


def test_mcnemar_counts_discordant_pairs_and_matches_the_exact_test():
    before = [True] * 50 + [False] * 50
    after = [True] * 45 + [False] * 5 + [True] * 20 + [False] * 30
    t = v.mcnemar(before, after)
    assert (t["b"], t["c"]) == (5, 20)
    from scipy.stats import binom
    assert t["p"] == pytest.approx(2 * binom.cdf(5, 25, 0.5))
    assert v.paired(before, after, +1)[0] == v.REPRODUCES
    assert v.paired(after, before, +1)[0] == v.DOES_NOT
    assert v.paired(before, before, +1)[0] == v.INCONCLUSIVE  # no discordant pair: no evidence
    with pytest.raises(ValueError):
        v.mcnemar([True], [True, False])


def test_paired_test_sees_what_independent_errors_miss():
    """The same 120 traces, 12 gained and 1 lost: McNemar finds it; two independent 2-SE
    intervals of 0.50 and 0.59 overlap."""
    before = [True] * 60 + [False] * 60
    after = [True] * 59 + [False] + [True] * 12 + [False] * 48
    assert v.paired(before, after, +1)[0] == v.REPRODUCES
    se = math.sqrt(2 * 0.25 / 120)
    assert np.mean(after) - np.mean(before) < 2 * se


def test_regime_gate_needs_sft_significantly_better_in_every_seed():
    """12 gained and 1 lost is significant; 3 gained and 1 lost is not; a seed that is worse fails the gate."""
    base = [True] * 60 + [False] * 60
    better = [True] * 59 + [False] + [True] * 12 + [False] * 48
    slightly = [True] * 59 + [False] + [True] * 3 + [False] * 57
    assert v.sft_helps(base, [better, better])
    assert not v.sft_helps(base, [better, slightly])
    assert not v.sft_helps(base, [better, base])  # level with pi_base
    assert not v.sft_helps(better, [base])  # worse than pi_base
    assert not v.sft_helps(base, [])


def test_wilson_interval():
    frac, lo, hi = v.proportion(61, 120)
    assert frac == pytest.approx(61 / 120) and lo < 0.5 < hi
    assert v.interval(lo, hi, (0.5, 1.0), 0.5) == v.INCONCLUSIVE
    assert v.interval(*v.proportion(90, 120)[1:], (0.5, 1.0), 0.5) == v.REPRODUCES


def _scaling_table(base: float, sft: dict, coverage: float, accuracy: float) -> pd.DataFrame:
    rows = [{"setting": "w", "method": "pi_base", "metric": "test_error", "n_problems": 0, "value": base,
             "n_test": 300}]
    for n, errs in sft.items():
        rows += [{"setting": "w", "method": "SFT", "metric": "test_error", "n_problems": n, "value": e, "seed": s}
                 for s, e in enumerate(errs)]
        rows += [{"setting": "w", "method": "pi_sft", "metric": m, "n_problems": n, "value": x}
                 for m, x in (("coverage", coverage), ("sample_accuracy", accuracy))]
    return pd.DataFrame(rows)


def test_regime_holds_in_the_papers_regime_and_fails_in_a_weak_base_and_teacher():
    paper_like = _scaling_table(0.70, {64: [0.66, 0.67, 0.65], 256: [0.60, 0.61, 0.59], 1024: [0.52, 0.53, 0.51]},
                                coverage=0.75, accuracy=0.45)
    assert check(paper_like)["holds"].all()
    weak = _scaling_table(0.79, {64: [0.92, 0.91, 0.92], 256: [0.85, 0.85, 0.85], 1024: [0.79, 0.78, 0.80]},
                            coverage=0.40, accuracy=0.09)
    found = check(weak).set_index("target")["holds"]
    assert not found.filter(like="never worse").iloc[0] and not found.filter(like="covers").iloc[0]
    assert not found.filter(like="sample accuracy").iloc[0] and found.filter(like="falls").iloc[0]


def test_regime_missing_inputs_are_not_measured():
    t = _scaling_table(0.7, {64: [0.6], 256: [0.5], 1024: [0.4]}, 0.7, 0.5)
    found = check(t[t.method != "pi_sft"])
    assert (found[found.target.str.contains("pi_sft")]["measured"] == "not measured").all()
    assert not found[found.target.str.contains("pi_sft")]["holds"].any()
    assert RegimeTargets().coverage_samples == 8
