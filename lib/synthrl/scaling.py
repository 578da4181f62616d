"""Scaling fits: test error as a power law in data size, and k-fold data efficiency.

err(n) = a * n^(-alpha) is a straight line in log-log space; we fit it by least squares on the
logs (scipy's linregress gives the slope's standard error, hence a t interval for alpha). A
method's data efficiency over SFT at size n is k = n_SFT(err_method(n)) / n: the D_syn size SFT
would need to reach the method's error, divided by the size the method used (paper.md: under a
power law an 8-fold efficiency is only a factor 8^(-alpha) in error, so it needs several sizes,
several seeds and an interval, never one pair of points).
"""
from __future__ import annotations

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
    fit = stats.linregress(np.log(n), np.log(err))
    t = stats.t.ppf(0.5 + confidence / 2, df=max(len(n) - 2, 1))
    alpha = -fit.slope
    return PowerLawFit(float(np.exp(fit.intercept)), float(alpha),
                       (float(alpha - t * fit.stderr), float(alpha + t * fit.stderr)), float(fit.rvalue ** 2))


def data_efficiency(sft_n, sft_err, method_n, method_err) -> float:
    """k: the geometric mean over the method's runs of n_SFT(mean method error at n) / n, with
    n_SFT from the power law fitted to SFT's errors (runs at one size share their mean error)."""
    sft = fit_power_law(sft_n, sft_err)
    method_n, method_err = np.asarray(method_n, dtype=float), np.asarray(method_err, dtype=float)
    sizes, counts = np.unique(method_n, return_counts=True)
    mean_err = np.array([method_err[method_n == s].mean() for s in sizes])
    with np.errstate(divide="ignore", over="ignore"):
        ratios = sft.size_for(mean_err) / sizes
    if not np.all(np.isfinite(ratios) & (ratios > 0)):  # a near-flat SFT curve: no finite size matches
        raise ValueError(f"SFT's curve is too flat (alpha = {sft.alpha:.3g}) to match the method's errors")
    return float(np.exp(np.average(np.log(ratios), weights=counts)))


def bootstrap_efficiency(sft_n, sft_err, method_n, method_err, n_boot: int = 1000, seed: int = 0,
                         confidence: float = 0.95, method_groups=None) -> tuple[float, float, float]:
    """k with a percentile bootstrap interval over seeds: at every size, each method's runs are
    resampled with replacement. `method_groups` (default: the method's sizes) says which runs are
    exchangeable, e.g. the D_syn size when each run's own sample count is its size (Fig. 9)."""
    rng = np.random.default_rng(seed)
    sft_n, sft_err = np.asarray(sft_n, dtype=float), np.asarray(sft_err, dtype=float)
    method_n, method_err = np.asarray(method_n, dtype=float), np.asarray(method_err, dtype=float)
    method_groups = method_n if method_groups is None else np.asarray(method_groups)

    def resample(n, err, groups):
        idx = np.concatenate([rng.choice(np.flatnonzero(groups == g), size=(groups == g).sum())
                              for g in np.unique(groups)])
        return n[idx], err[idx]

    estimates = []
    for _ in range(n_boot):
        try:
            estimates.append(data_efficiency(*resample(sft_n, sft_err, sft_n),
                                             *resample(method_n, method_err, method_groups)))
        except ValueError:  # a resample whose SFT curve does not fall: no k for it
            continue
    if not estimates:
        raise ValueError("no bootstrap resample gave a falling SFT curve")
    lo, hi = np.quantile(estimates, [0.5 - confidence / 2, 0.5 + confidence / 2])
    return data_efficiency(sft_n, sft_err, method_n, method_err), float(lo), float(hi)
