"""One pure function per figure: results in, matplotlib Figure out; `save` writes it."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from synthrl.results import data_dir

METHOD_COLORS = {"pi_base": "#999999", "SFT": "#1f77b4", "RFT": "#2ca02c"}


def quickstart_test_error(results: pd.DataFrame) -> plt.Figure:
    """Test error of pi_base, pi_sft and RFT (bars), with the preset and run in the title."""
    err = results[results.metric == "test_error"].set_index("method")["value"]
    err = err.reindex([m for m in ("pi_base", "SFT", "RFT") if m in err.index])
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    bars = ax.bar(err.index, err.values, color=[METHOD_COLORS[m] for m in err.index])
    ax.bar_label(bars, fmt="%.2f")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("test error (greedy)")
    preset = results["preset"].iloc[0]
    n = int(results[(results.method == "SFT") & (results.metric == "test_error")]["n_problems"].iloc[0])
    ax.set_title(f"quickstart, preset {preset}: |D_syn| = {n}", fontsize=9)
    fig.tight_layout()
    return fig


def training_curves(results: pd.DataFrame) -> plt.Figure:
    """Training loss against step for each model of a study."""
    loss = results[results.metric == "train_loss"]
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for method, group in loss.groupby("method"):
        ax.plot(group["step"], group["value"], label=method, color=METHOD_COLORS.get(method))
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss (per token)")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    return fig


def q_per_step(results: pd.DataFrame) -> plt.Figure:
    """Fig. 7 style: mean Q (BoK, K = 5) of pi_sft's negative traces, by step index and by offset
    from the exact first wrong step, with rollouts from each policy."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), sharey=True)
    for ax, metric, xlabel in ((axes[0], "q_value", "prefix: steps taken (0 = the bare problem)"),
                               (axes[1], "q_value_from_first_wrong", "steps from the exact first wrong step")):
        for method, group in results[results.metric == metric].groupby("method"):
            ax.plot(group["step"], group["value"], marker="o", label=f"rollouts from {method}",
                    color=METHOD_COLORS.get(method))
        ax.set_xlabel(xlabel)
    axes[1].axvline(0, color="#d62728", lw=0.8, ls="--")
    axes[0].set_ylabel("mean Q_BoK of the prefix")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def credit_validation(results: pd.DataFrame) -> plt.Figure:
    """How often the estimated first pit is the exact first wrong step, and how well Q drops
    separate wrong steps from right ones (AUC), against rollouts per prefix."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for ax, metric, ylabel in ((axes[0], "first_pit_agreement", "first pit = first wrong step"),
                               (axes[1], "drop_auc", "AUC of Q drop: wrong vs right")):
        rows = results[results.metric == metric]
        for (method, definition), group in rows.groupby(["method", "definition"]):
            if metric == "drop_auc" and definition != "min":
                continue  # the AUC does not depend on the pit definition
            label = method if metric == "drop_auc" else f"{method}, {definition}"
            ax.plot(group["n_rollouts"], group["value"], marker="o", label=label,
                    ls="-" if method.endswith("rollouts") else "--")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("rollouts per prefix")
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def save(fig: plt.Figure, preset: str, name: str) -> Path:
    """Write a figure to data/figures/<preset>/<name>.png (atomically) and close it."""
    import os
    import tempfile

    folder = data_dir() / "figures" / preset
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".png")
    os.close(fd)
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, path)
    plt.close(fig)
    return path


STUDY_FIGURES = {
    "quickstart": {"quickstart_test_error": quickstart_test_error, "quickstart_training": training_curves},
    "q_values": {"fig7_q_per_step": q_per_step, "q_validation": credit_validation},
}


def save_study_figures(study: str, results: pd.DataFrame, preset: str) -> list[Path]:
    return [save(make(results), preset, name) for name, make in STUDY_FIGURES.get(study, {}).items()]
