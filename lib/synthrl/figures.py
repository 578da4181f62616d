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
}


def save_study_figures(study: str, results: pd.DataFrame, preset: str) -> list[Path]:
    return [save(make(results), preset, name) for name, make in STUDY_FIGURES.get(study, {}).items()]
