"""Scaling fits: test error as a power law in data size, and k-fold data efficiency.

err(n) = a * n^(-alpha) is a straight line in log-log space; we fit it by least squares on the
logs (scipy's linregress gives the slope's standard error, hence a t interval for alpha). A
method's data efficiency over SFT at size n is k = n_SFT(err_method(n)) / n: the D_syn size SFT
would need to reach the method's error, divided by the size the method used (paper.md: under a
power law an 8-fold efficiency is only a factor 8^(-alpha) in error, so it needs several sizes,
several seeds and an interval, never one pair of points).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class PowerLawFit:
    a: float
    alpha: float
    alpha_ci: tuple[float, float]
    r2: float

    def error(self, n: np.ndarray | float) -> np.ndarray:
        return self.a * np.asarray(n, dtype=float) ** (-self.alpha)

    def size_for(self, err: np.ndarray | float) -> np.ndarray:
        """The size at which the fitted curve reaches `err` (its inverse)."""
        if self.alpha <= 0:
            raise ValueError(f"error does not fall with size (alpha = {self.alpha:.3g}): no size reaches a lower error")
        return (self.a / np.asarray(err, dtype=float)) ** (1.0 / self.alpha)


def fit_power_law(n, err, confidence: float = 0.95) -> PowerLawFit:
    """Least-squares fit of log err = log a - alpha log n, over every (size, error) observation
    (several seeds per size are several observations)."""
    n, err = np.asarray(n, dtype=float), np.asarray(err, dtype=float)
    if n.shape != err.shape or len(np.unique(n)) < 2:
        raise ValueError("need errors at two or more distinct sizes, one error per size entry")
    if (n <= 0).any() or (err <= 0).any():
        raise ValueError("sizes and errors must be positive for a log-log fit (an error of 0 has no log)")
    slope, intercept, r, stderr = _linregress(np.log(n), np.log(err))
    t = _t_quantile(0.5 + confidence / 2, max(len(n) - 2, 1))
    alpha = -slope
    return PowerLawFit(float(np.exp(intercept)), float(alpha),
                       (float(alpha - t * stderr), float(alpha + t * stderr)), float(r ** 2))


def fit_power_law_by_seed(n, err, seed, confidence: float = 0.95) -> PowerLawFit:
    """The power law fitted to each seed's sizes on its own, then averaged: alpha is the mean of the
    seeds' exponents with a t interval over seeds, `a` their geometric mean, R^2 that of the pooled fit.
    The sizes of one seed are nested draws (256 of its problems are among its 512), so its points are not
    independent observations and the pooled fit's interval would be too narrow; the seeds are independent.
    With one seed, the pooled fit (its interval treats the sizes as independent)."""
    n, err, seed = (np.asarray(v) for v in (n, err, seed))
    pooled = fit_power_law(n, err, confidence)
    seeds = np.unique(seed)
    if len(seeds) < 2:
        return pooled
    each = [fit_power_law(n[seed == s], err[seed == s], confidence) for s in seeds]
    alphas = np.array([f.alpha for f in each])
    half = _t_quantile(0.5 + confidence / 2, len(seeds) - 1) * alphas.std(ddof=1) / np.sqrt(len(seeds))
    alpha = float(alphas.mean())
    return PowerLawFit(float(np.exp(np.mean([np.log(f.a) for f in each]))), alpha,
                       (alpha - float(half), alpha + float(half)), pooled.r2)


def _linregress(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """scipy.stats.linregress's slope, intercept, r and slope standard error, by its own formulas and in
    its order of operations (scipy 1.17's floats; 1.18 orders its sums otherwise: within 1e-13 relative).
    Ours only for speed: a k-fold bootstrap fits SFT's curve tens of thousands of times, and scipy's
    per-call argument handling took most of that time."""
    ssxm, ssxym, _, ssym = np.cov(x, y, bias=1).flat
    if ssxm == 0.0 or ssym == 0.0:
        r = float("nan") if ssxym == 0 else 0.0
    else:
        r = float(np.clip(ssxym / np.sqrt(ssxm * ssym), -1.0, 1.0))
    slope = ssxym / ssxm
    intercept = np.mean(y, None) - slope * np.mean(x, None)
    stderr = 0.0 if len(x) == 2 else float(np.sqrt((1 - r ** 2) * ssym / ssxm / (len(x) - 2)))
    return float(slope), float(intercept), r, stderr


@functools.lru_cache(maxsize=64)
def _t_quantile(q: float, df: int) -> float:
    return float(stats.t.ppf(q, df=df))


def _size_means(n: np.ndarray, err: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group (a D_syn size): the mean size, the mean error and the number of runs."""
    keys = np.unique(groups)
    return (np.array([n[groups == g].mean() for g in keys]), np.array([err[groups == g].mean() for g in keys]),
            np.array([(groups == g).sum() for g in keys]))


def in_range(sft_n, sft_err, method_n, method_err, method_groups=None, fit: PowerLawFit | None = None) -> np.ndarray:
    """Which of the method's groups (default: its sizes, sorted) have a mean error that SFT's fitted
    curve reaches inside SFT's measured sizes: only there is a k-fold estimate an interpolation.
    `fit`: SFT's curve if already fitted to these errors (the bootstrap fits each resample once)."""
    sft_n = np.asarray(sft_n, dtype=float)
    fit = fit or fit_power_law(sft_n, sft_err)
    method_n = np.asarray(method_n, dtype=float)
    groups = method_n if method_groups is None else np.asarray(method_groups)
    _, mean_err, _ = _size_means(method_n, np.asarray(method_err, dtype=float), groups)
    if fit.alpha <= 0:
        return np.zeros(len(mean_err), dtype=bool)
    with np.errstate(divide="ignore", over="ignore"):
        n_sft = fit.size_for(mean_err)
    return np.isfinite(n_sft) & (n_sft >= sft_n.min() * (1 - 1e-9)) & (n_sft <= sft_n.max() * (1 + 1e-9))


def data_efficiency(sft_n, sft_err, method_n, method_err, method_groups=None, keep=None,
                    fit: PowerLawFit | None = None) -> float:
    """k: the geometric mean over the method's groups (default: its sizes) of n_SFT(mean method
    error of the group) / (mean size of the group), with n_SFT from the power law fitted to SFT's
    errors, weighted by runs per group. `keep` (a mask over the sorted groups) restricts it to
    groups inside SFT's measured range (`in_range`); `fit` as there."""
    sft = fit or fit_power_law(sft_n, sft_err)
    method_n, method_err = np.asarray(method_n, dtype=float), np.asarray(method_err, dtype=float)
    groups = method_n if method_groups is None else np.asarray(method_groups)
    sizes, mean_err, counts = _size_means(method_n, method_err, groups)
    if keep is not None:
        sizes, mean_err, counts = sizes[keep], mean_err[keep], counts[keep]
    if not len(sizes):
        raise ValueError("no group of the method lies inside SFT's measured range")
    with np.errstate(divide="ignore", over="ignore"):
        ratios = sft.size_for(mean_err) / sizes
    if not np.all(np.isfinite(ratios) & (ratios > 0)):  # a near-flat SFT curve: no finite size matches
        raise ValueError(f"SFT's curve is too flat (alpha = {sft.alpha:.3g}) to match the method's errors")
    return float(np.exp(np.average(np.log(ratios), weights=counts)))


@dataclass(frozen=True)
class Efficiency:
    k: float
    lo: float
    hi: float
    groups_used: tuple  # the method's groups inside SFT's measured range
    groups_beyond: tuple  # those outside it (no estimate there)
    dropped: float  # fraction of bootstrap resamples with no estimate (a flat curve, or out of range)


def bootstrap_efficiency(sft_n, sft_err, sft_seed, method_n, method_err, method_seed, method_groups=None,
                         n_boot: int = 1000, seed: int = 0, confidence: float = 0.95) -> Efficiency:
    """k over the groups inside SFT's measured range, with a percentile bootstrap interval paired
    by seed: at each D_syn size a resample draws seeds with replacement and takes both arms' runs
    of those seeds (SFT and the method of one seed and size share their D_syn). A resample in
    which SFT's curve does not fall or a kept group leaves the range gives no k; their fraction is
    reported as `dropped`. `method_groups` must be D_syn sizes (SFT's n) for the pairing."""
    rng = np.random.default_rng(seed)
    sft_n, sft_err, sft_seed = (np.asarray(a) for a in (sft_n, sft_err, sft_seed))
    method_n, method_err, method_seed = (np.asarray(a) for a in (method_n, method_err, method_seed))
    groups = method_n if method_groups is None else np.asarray(method_groups)
    keep = in_range(sft_n, sft_err, method_n, method_err, groups)
    keys = np.unique(groups)
    used, beyond = tuple(keys[keep].tolist()), tuple(keys[~keep].tolist())
    if not keep.any():
        return Efficiency(float("nan"), float("nan"), float("nan"), used, beyond, 1.0)
    k = data_efficiency(sft_n, sft_err, method_n, method_err, groups, keep)
    estimates = []
    for _ in range(n_boot):
        i, j = [], []
        for size in np.union1d(np.unique(sft_n), keys):  # per D_syn size, one draw of seeds for both arms
            s_at, m_at = sft_n == size, groups == size
            draw = rng.choice(np.union1d(sft_seed[s_at], method_seed[m_at]), size=max(s_at.sum(), m_at.sum()))
            i += [np.flatnonzero(s_at & (sft_seed == d)) for d in draw]
            j += [np.flatnonzero(m_at & (method_seed == d)) for d in draw]
        i, j = np.concatenate(i), np.concatenate(j)
        if len(np.unique(groups[j])) != len(keys) or len(np.unique(sft_n[i])) < 2:
            continue
        try:
            fit = fit_power_law(sft_n[i], sft_err[i])
            if not in_range(sft_n[i], sft_err[i], method_n[j], method_err[j], groups[j], fit)[keep].all():
                continue
            estimates.append(data_efficiency(sft_n[i], sft_err[i], method_n[j], method_err[j], groups[j], keep, fit))
        except ValueError:  # a resample whose SFT curve does not fall
            continue
    dropped = 1 - len(estimates) / n_boot
    if not estimates:
        return Efficiency(k, float("nan"), float("nan"), used, beyond, dropped)
    lo, hi = np.quantile(estimates, [0.5 - confidence / 2, 0.5 + confidence / 2])
    return Efficiency(k, float(lo), float(hi), used, beyond, dropped)
