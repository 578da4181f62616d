"""The kit's verdict rules, in one place. Every study's `claims()` judges through these.

- `interval`: a claim measured with a 95% interval against the paper's value or range and against
  "no effect". *Reproduces* only when the interval overlaps the paper's value or range and excludes
  no effect, and, against a range, the point estimate lies inside it (an interval that only reaches
  into the range is *inconclusive*); *does not reproduce* when it excludes the paper's value or range;
  *inconclusive* when it holds both.
- `NOT_TESTABLE`: the inputs cannot show an effect (both arms at the floor or the ceiling, as in
  the smoke preset), never "reproduces". `at_bound` tells.
- `BEYOND_RANGE`: a k-fold efficiency whose method error lies outside SFT's measured range.
- `absence`: a "no effect here" claim (no transition from an over-trained start) counts only when
  the effect appeared somewhere else in the same run; otherwise it is not testable.
- `mcnemar`: comparisons on the same items (agreement at 1 against n rollouts on the same traces)
  use the exact McNemar test on the discordant pairs, not independent standard errors.
- `proportion`: a fraction of n items with its Wilson interval (scipy).
- `sft_helps`, the regime gate: a claim about a method trained from pi_sft is testable only at a size
  where SFT is better than pi_base, by the exact McNemar test on the same test problems (c > b and
  p < ALPHA) in every seed; at any other size it is *not testable here*, never "does not reproduce"
  (the paper's premise, SFT improving its base model, does not hold there).

Definitions (which first pit, how many rollouts) come from the config before the run; a study
that reports several judges each one, and never picks one by its result.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from scipy import stats

REPRODUCES = "reproduces"
DOES_NOT = "does not reproduce"
INCONCLUSIVE = "inconclusive"
NOT_TESTABLE = "not testable here"
BEYOND_RANGE = "beyond the measured range"
VERDICTS = (REPRODUCES, DOES_NOT, INCONCLUSIVE, NOT_TESTABLE, BEYOND_RANGE)
ALPHA = 0.05  # 95% intervals and two-sided tests throughout (our choice; the paper reports none)


def interval(lo: float, hi: float, paper: float | tuple[float, float], null: float,
             point: float | None = None) -> str:
    """Judge an interval [lo, hi] against the paper's value (a point) or range (lo, hi; use
    +-inf for one-sided claims such as k > 1) and against the value meaning no effect. `point`: the
    estimate the interval is around (its midpoint where None), which must lie inside a range."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        return NOT_TESTABLE
    p_lo, p_hi = (paper, paper) if isinstance(paper, (int, float)) else paper
    eps = 1e-9 * max(1.0, abs(lo), abs(hi))  # an interval that ends on the paper's value (rounding) touches it
    overlaps_paper = lo <= p_hi + eps and hi >= p_lo - eps
    holds_null = lo <= null <= hi
    point = (lo + hi) / 2 if point is None else point
    if not overlaps_paper:
        return DOES_NOT
    if holds_null or (p_lo < p_hi and not p_lo - eps <= point <= p_hi + eps):
        return INCONCLUSIVE
    return REPRODUCES


def at_bound(values: Iterable[float], floor: float = 0.0, ceiling: float = 1.0, tol: float = 1e-9) -> bool:
    """True when every value sits at the floor, or every value at the ceiling (nothing can move)."""
    v = np.asarray(list(values), dtype=float)
    v = v[np.isfinite(v)]
    return v.size == 0 or bool((v <= floor + tol).all() or (v >= ceiling - tol).all())


def absence(absent_here: bool, present_elsewhere: bool) -> str:
    """An effect the paper says is absent in one arm (e.g. no transition from an over-trained start)."""
    if not present_elsewhere:
        return NOT_TESTABLE
    return REPRODUCES if absent_here else DOES_NOT


def proportion(successes: int, n: int) -> tuple[float, float, float]:
    """A fraction with its 95% Wilson interval."""
    if n <= 0:
        return float("nan"), float("nan"), float("nan")
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(1 - ALPHA, method="wilson")
    return successes / n, float(ci.low), float(ci.high)


def mcnemar(before: Iterable[bool], after: Iterable[bool]) -> dict:
    """Exact McNemar test of paired outcomes on the same items: b = right before only, c = right
    after only; p from the binomial test of c against b + c at 1/2 (scipy)."""
    before, after = np.asarray(list(before), dtype=bool), np.asarray(list(after), dtype=bool)
    if before.shape != after.shape:
        raise ValueError("paired outcomes need the same items on both sides")
    b, c = int((before & ~after).sum()), int((~before & after).sum())
    p = 1.0 if b + c == 0 else float(stats.binomtest(c, b + c, 0.5).pvalue)
    return {"b": b, "c": c, "diff": (c - b) / max(len(before), 1), "p": p}


def paired(before: Iterable[bool], after: Iterable[bool], paper_direction: int) -> tuple[str, dict]:
    """A paired comparison judged by McNemar at ALPHA: the paper says `after` is better (+1) or
    worse (-1). A significant change the paper's way reproduces, one the other way does not, and
    no significant change is inconclusive. Returns the verdict and the test."""
    if paper_direction not in (1, -1):
        raise ValueError("paper_direction is +1 (after is better) or -1 (after is worse)")
    t = mcnemar(before, after)
    if t["p"] >= ALPHA:
        return INCONCLUSIVE, t
    return (REPRODUCES if (t["c"] > t["b"]) == (paper_direction == 1) else DOES_NOT), t


def sft_helps(base: Iterable[bool], sft_by_seed: Iterable[Iterable[bool]]) -> bool:
    """The regime gate at one size: SFT (each seed's outcomes on the test problems, in the order of
    `base`, pi_base's) is better than pi_base by McNemar at ALPHA in every seed. No seed: False."""
    base = list(base)
    tests = [mcnemar(base, sft) for sft in sft_by_seed]
    return bool(tests) and all(t["c"] > t["b"] and t["p"] < ALPHA for t in tests)
