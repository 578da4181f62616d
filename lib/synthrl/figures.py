"""One pure function per figure: results in, matplotlib Figure out; `save` writes it."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker
import pandas as pd

from synthrl.results import curve, data_dir

METHOD_COLORS = {"pi_base": "#999999", "SFT": "#1f77b4", "RFT": "#2ca02c", "RFT-epochs": "#006d2c", "RFT-1": "#98df8a",
                 "D_syn": "#1f77b4", "D+": "#2ca02c", "per-step DPO": "#d62728",
                 "per-step DPO (min)": "#d62728", "per-step DPO (no_success)": "#ff9896",
                 "per-step DPO (max_drop)": "#8c564b", "oracle per-step DPO": "#9467bd",
                 "pooled per-step DPO": "#e377c2", "naive DPO": "#7f7f7f", "DPOP": "#bcbd22", "AWR": "#17becf",
                 "advantage-filtered RFT": "#ff7f0e", "GRPO": "#393b79"}


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
    _tight(fig)
    return fig


def training_curves(results: pd.DataFrame) -> plt.Figure:
    """Training loss against step for each model of a study."""
    loss = results[results.metric == "train_loss"]
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for method, group in loss.groupby("method"):  # a run logged at a few steps only is drawn as points
        ax.plot(group["step"], group["value"], label=method, color=METHOD_COLORS.get(method),
                marker="o" if len(group) < 5 else None)
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss (per token)")
    ax.set_yscale("log")
    ax.legend()
    _tight(fig)
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
    _tight(fig)
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
    _tight(fig)
    return fig


def _settings_axes(results: pd.DataFrame, width: float = 4.0):
    """One panel per setting in `results` (one empty panel, so titled, where it has none)."""
    settings = list(results.setting.dropna().unique()) or ["no data"]
    fig, axes = plt.subplots(1, len(settings), figsize=(width * len(settings), 3.4), squeeze=False)
    return fig, list(zip(settings, axes[0]))


def _error_curve(ax, means: pd.DataFrame, fit_rows: pd.DataFrame, method: str, x: str) -> None:
    """Mean test error over seeds (+- one standard error) and the fitted power law."""
    import numpy as np

    m = means[means.method == method].sort_values(x)
    if m.empty:
        return
    label = method
    f = fit_rows[fit_rows.method == method]
    if not f.empty and "alpha" in f and pd.notna(f["alpha"].iloc[0]):
        a, alpha = f["a"].iloc[0], f["alpha"].iloc[0]
        xs = np.geomspace(m[x].min(), m[x].max(), 50)
        ax.plot(xs, a * xs ** (-alpha), color=METHOD_COLORS[method], lw=1, ls="--")
        label = f"{method} (alpha = {alpha:.2f})"
    ax.errorbar(m[x], m["mean"], yerr=m["sem"], marker="o", ls="none", capsize=2,
                color=METHOD_COLORS[method], label=label)


def _base_line(ax, base: pd.DataFrame, setting: str) -> None:
    """pi_base's test error, the line every finetuned model is read against."""
    b = base[base.setting == setting]["value"]
    if len(b):
        ax.axhline(float(b.iloc[0]), color=METHOD_COLORS["pi_base"], lw=1, ls=":",
                   label=f"pi_base ({float(b.iloc[0]):.2f})")


def positive_scaling(means: pd.DataFrame, fitted: pd.DataFrame, eff: pd.DataFrame, base: pd.DataFrame,
                     preset: str) -> plt.Figure:
    """Figs. 2a/2b: test error against |D_syn| (log-log) for SFT and RFT, mean over seeds with
    fitted power laws and pi_base's line, one panel per setting; RFT's k-fold efficiency (computed
    by the study) in the title."""
    fig, panels = _settings_axes(means)
    for setting, ax in panels:
        for method in ("SFT", "RFT"):
            _error_curve(ax, means[means.setting == setting], fitted[fitted.setting == setting], method, "n_problems")
        _base_line(ax, base, setting)
        e = eff[(eff.setting == setting) & (eff.method == "RFT")] if not eff.empty else eff
        title = setting
        if len(e) and pd.notna(e["k_lo"].iloc[0]):
            title += f": RFT = SFT on {e['k'].iloc[0]:.2f}x data [{e['k_lo'].iloc[0]:.2f}, {e['k_hi'].iloc[0]:.2f}]"
        else:
            title += ": no efficiency estimate in SFT's range"
        ax.set(xscale="log", yscale="log", xlabel="|D_syn| (problems)", ylabel="test error (greedy)")
        ax.set_title(title, fontsize=8)
        ax.legend(fontsize=7)
    fig.suptitle(f"positive-data scaling, preset {preset}", fontsize=9)
    _tight(fig)
    return fig


def method_errors(means: pd.DataFrame, fitted: pd.DataFrame, base: pd.DataFrame, methods: list[str],
                  title: str) -> plt.Figure:
    """Test error against |D_syn| (log-log) of each method in `methods`, mean over seeds (+- one standard
    error) with its fitted power law, and pi_base's line; one panel per setting (Figs. 5a-5c, 10, 11)."""
    fig, panels = _settings_axes(means, width=4.6)
    for setting, ax in panels:
        for method in methods:
            _error_curve(ax, means[means.setting == setting], fitted[fitted.setting == setting], method, "n_problems")
        _base_line(ax, base, setting)
        ax.set(xscale="log", yscale="log", xlabel="|D_syn| (problems)", ylabel="test error (greedy)")
        ax.set_title(setting, fontsize=8)
        ax.legend(fontsize=6)
    fig.suptitle(title, fontsize=9)
    _tight(fig)
    return fig


def error_against_cost(points: pd.DataFrame, base: pd.DataFrame, title: str) -> plt.Figure:
    """Test error against the tokens a method sampled (pi_sft's samples, rollouts, online samples), mean
    over seeds (+- one standard error), one point per |D_syn| joined per method, and pi_base's line; one
    panel per setting (`points`: setting, method, n_problems, tokens, mean, sem)."""
    fig, panels = _settings_axes(points, width=4.6)
    for setting, ax in panels:
        at = points[points.setting == setting]
        for method, m in at.groupby("method", sort=False):
            m = m.sort_values("n_problems")
            ax.errorbar(m["tokens"] / 1e3, m["mean"], yerr=m["sem"], marker="o", capsize=2, lw=1,
                        color=METHOD_COLORS.get(method), label=method)
            for _, r in m.iterrows():
                ax.annotate(f"{int(r.n_problems)}", (r.tokens / 1e3, r["mean"]), fontsize=5, xytext=(2, 2),
                            textcoords="offset points")
        _base_line(ax, base, setting)
        ax.set(xlabel="sampled tokens (thousands; labels: |D_syn|)", ylabel="test error (greedy)")
        ax.set_title(setting, fontsize=8)
    panels[-1][1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # one legend, beside the points
    fig.suptitle(title, fontsize=9)
    _tight(fig)
    return fig


def q_by_label(gains: pd.DataFrame, title: str) -> plt.Figure:
    """Fig. 7: mean Q (BoK) of the step prefixes ending at steps of each exact label, under each policy,
    one panel per setting (`gains`: setting, method, label, q, n_prefixes)."""
    settings = list(gains.setting.drop_duplicates())
    fig, axes = plt.subplots(1, len(settings), figsize=(4.2 * len(settings), 3.2), sharey=True, squeeze=False)
    for ax, setting in zip(axes[0], settings):
        g = gains[(gains.setting == setting) & gains.q.notna()]
        labels = list(g.label.drop_duplicates())
        methods = sorted(g.method.drop_duplicates(), key=lambda m: m != "SFT")  # pi_sft, the reference, first
        width = 0.8 / max(1, len(methods))
        for j, method in enumerate(methods):
            q = g[g.method == method].set_index("label")["q"].reindex(labels)
            ax.bar([i + j * width for i in range(len(labels))], q, width, label=method,
                   color=METHOD_COLORS.get(method))
        counts = g.drop_duplicates("label").set_index("label")["n_prefixes"].reindex(labels)
        ax.set_xticks([i + width * (len(methods) - 1) / 2 for i in range(len(labels))],
                      [f"{lab}\n({int(n)} prefixes)" for lab, n in counts.items()])
        ax.set_title(setting, fontsize=9)
    axes[0][0].set_ylabel("mean Q_BoK of the prefix")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    _tight(fig)
    return fig


def rft_positives(counts: pd.DataFrame, reference: pd.DataFrame, title: str) -> plt.Figure:
    """Fig. 2c: RFT's test error against distinct positives per problem in D+ (mean over seeds +- one
    standard error; `counts`: setting, positives_per_problem, error, sem, d_plus), with SFT's and
    pi_base's errors on the same problems as lines (`reference`: setting, method, value)."""
    fig, panels = _settings_axes(counts, width=4.4)
    for setting, ax in panels:
        c = counts[counts.setting == setting].sort_values("positives_per_problem")
        ax.errorbar(c.positives_per_problem, c.error, yerr=c["sem"], marker="o", capsize=2, color=METHOD_COLORS["RFT"],
                    label="RFT")
        for x, y, n in zip(c.positives_per_problem, c.error, c.d_plus):
            ax.annotate(f"{n:.0f}", (x, y), textcoords="offset points", xytext=(0, 6), fontsize=6, ha="center")
        for method, style in (("SFT", "--"), ("pi_base", ":")):
            v = reference[(reference.setting == setting) & (reference.method == method)]["value"]
            if len(v):
                ax.axhline(float(v.iloc[0]), color=METHOD_COLORS[method], lw=1, ls=style,
                           label=f"{method} ({float(v.iloc[0]):.2f})")
        ax.set(ylabel="test error (greedy)")
        _positives_axis(ax, c, setting, "distinct positives per problem (D+ size above each point)", 6)
    return _titled(fig, title)


def spurious_fractions(counts: pd.DataFrame, title: str) -> plt.Figure:
    """The fraction of D+ with a wrong, an irrelevant, and any spurious step against positives per
    problem (solid), and the same among the RFT models' right test answers (dashed); `counts` holds
    columns "d_plus KIND" and "rft_answers KIND"."""
    fig, panels = _settings_axes(counts, width=4.4)
    colors = {"wrong": "#d62728", "irrelevant": "#ff7f0e", "spurious": "#7f7f7f"}
    for setting, ax in panels:
        c = counts[counts.setting == setting].sort_values("positives_per_problem")
        for kind, color in colors.items():
            for prefix, style, where in (("d_plus", "-", "D+"), ("rft_answers", "--", "RFT's right answers")):
                if f"{prefix} {kind}" in c:
                    ax.plot(c.positives_per_problem, c[f"{prefix} {kind}"], marker="o", ls=style, color=color,
                            label=f"{kind} step, {where}")
        ax.set(ylim=(0, 1), ylabel="fraction of solutions")
        _positives_axis(ax, c, setting, "distinct positives per problem", 5)
    return _titled(fig, title)


class _PlainLog(matplotlib.ticker.LogFormatter):
    """matplotlib's own log-axis labels (the same ticks labelled) written as plain numbers: "0.6", "64"."""

    def _num_to_string(self, x, vmin, vmax):
        return f"{x:g}"


def _tight(fig: plt.Figure) -> None:
    """Log axes labelled without mathtext, then tight layout. matplotlib's default log labels are
    mathtext ("$\\mathdefault{10^{2}}$"), and its mathtext parser is shared state: an explorer's callback
    draws on the kernel's subshell thread while the main thread may draw too, and the browser test twice
    caught a redraw failing inside the parser (notebooks 03 and 02)."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            base = getattr(axis.get_transform(), "base", None)
            if base is None:
                continue
            if isinstance(axis.get_major_formatter(), matplotlib.ticker.LogFormatterSciNotation):
                axis.set_major_formatter(_PlainLog(base))
            if isinstance(axis.get_minor_formatter(), matplotlib.ticker.LogFormatterSciNotation):
                axis.set_minor_formatter(_PlainLog(base, labelOnlyBase=False))
    fig.tight_layout()


def _positives_axis(ax, counts: pd.DataFrame, setting: str, xlabel: str, legend_size: int) -> None:
    """A log axis of positives per problem, ticked at the counts run."""
    ax.set(xscale="log", xlabel=xlabel)
    ax.set_xticks(list(counts.positives_per_problem), [str(int(k)) for k in counts.positives_per_problem])
    # no minor labels ("3" beside our 2 and 4): they overlapped the counts
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_title(setting, fontsize=8)
    ax.legend(fontsize=legend_size)


def _titled(fig: plt.Figure, title: str) -> plt.Figure:
    fig.suptitle(title, fontsize=9)
    _tight(fig)
    return fig


def rft_arms(arms: pd.DataFrame, title: str) -> plt.Figure:
    """Fig. 4: RFT's test error (mean over seeds +- one standard error) on each data set of one size;
    each tick names the set's size and spurious fraction (`arms`: setting, method, error, sem, size,
    spurious)."""
    fig, panels = _settings_axes(arms, width=4.4)
    for setting, ax in panels:
        a = arms[arms.setting == setting]
        colors = ["#2ca02c", "#1f77b4", "#17becf", "#d62728"]  # as sampled, clean by labels, by advantages, spurious
        for i, (error, sem, color) in enumerate(zip(a.error, a["sem"], colors)):  # points: the axis is not from 0
            ax.errorbar(i, error, yerr=sem, marker="o", markersize=7, capsize=3, color=color)
        names = [m.removeprefix("RFT, ").replace(" (", "\n(") for m in a.method]
        ticks = [f"{m}\nn = {n:.0f}\n{f:.0%} spurious" for m, n, f in zip(names, a["size"], a.spurious)]
        ax.set_xticks(range(len(a)), ticks, fontsize=6)
        if len(a):  # the differences are a few points: read them, not the distance from 0
            low, high = (a.error - a["sem"].fillna(0)).min(), (a.error + a["sem"].fillna(0)).max()
            ax.set_ylim(max(0.0, low - 0.05), min(1.0, high + 0.05))
        ax.set(ylabel="test error (greedy)")
        ax.set_title(setting, fontsize=8)
    return _titled(fig, title)


def preference_diagnostics(log: pd.DataFrame, title: str) -> plt.Figure:
    """The preference trainer's per-step log (rows: method, metric, step, value, averaged over the
    cells given): chosen and rejected log-ratios, the reward margin and the pair accuracy. A chosen
    log-ratio that falls with the rejected one is DPO's known failure."""
    metrics = ("dpo_chosen_logratio", "dpo_rejected_logratio", "dpo_reward_margin", "dpo_pair_accuracy")
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.2), squeeze=False)
    for metric, ax in zip(metrics, axes[0]):
        m = log[log.metric == metric]
        for method, g in m.groupby("method", sort=False):
            series = g.groupby("step")["value"].mean()
            ax.plot(series.index, series.values, lw=1, color=METHOD_COLORS.get(method), label=method)
        ax.set(xlabel="preference step", ylabel=metric.removeprefix("dpo_").replace("_", " "))
        ax.axhline(0.0, color="#999999", lw=0.5)
    axes[0][0].legend(fontsize=6)
    fig.suptitle(title, fontsize=9)
    _tight(fig)
    return fig


def nll_under_base(results: pd.DataFrame) -> plt.Figure:
    """Fig. 3: per-token NLL under pi_base of D_syn's solutions and of D+ (pi_sft's positives)."""
    nll = results[results.metric == "nll_per_token"]
    fig, panels = _settings_axes(nll)
    for setting, ax in panels:
        for method in ("D_syn", "D+"):
            v = nll[(nll.setting == setting) & (nll.method == method)]["value"]
            ax.hist(v, bins=30, alpha=0.55, color=METHOD_COLORS[method], density=True,
                    label=f"{method} (mean {v.mean():.2f})")
        n = int(nll[nll.setting == setting]["n_problems"].iloc[0])
        ax.set(xlabel="NLL per token under pi_base (nats)", ylabel="density")
        ax.set_title(f"{setting}, |D_syn| = {n}", fontsize=8)
        ax.legend(fontsize=7)
    _tight(fig)
    return fig


def one_positive(means: pd.DataFrame, fitted: pd.DataFrame, base: pd.DataFrame) -> plt.Figure:
    """Fig. 9: RFT on one self-generated positive per problem against SFT, both at their number
    of training samples, with pi_base's line."""
    fig, panels = _settings_axes(means)
    for setting, ax in panels:
        m, f = means[means.setting == setting], fitted[fitted.setting == setting]
        _error_curve(ax, m, f, "SFT", "n_samples")
        _error_curve(ax, m, f, "RFT-1", "n_samples")
        _base_line(ax, base, setting)
        ax.set(xscale="log", yscale="log", xlabel="training samples", ylabel="test error (greedy)")
        ax.set_title(f"{setting}: one positive per problem vs SFT", fontsize=8)
        ax.legend(fontsize=7)
    _tight(fig)
    return fig


def _star_series(results: pd.DataFrame, metric: str, start=None) -> pd.DataFrame:
    return curve(results, metric, method="SFT" if start is None else "per-step DPO",
                 **({} if start is None else {"start": start}))


def _dpo_starts(results: pd.DataFrame, kind: str) -> list[int]:
    dpo = results[(results.method == "per-step DPO") & (results.start_kind == kind)]
    return sorted(int(s) for s in dpo.start.dropna().unique())


def star_shortcut(results: pd.DataFrame, d: int) -> plt.Figure:
    """The Clever Hans shortcut under SFT: teacher-forced accuracy of the critical token (the node
    after the start) against the other path tokens, on training and test graphs, with 1/d."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for metric, label, color in (("other_acc", "other path tokens", "#2ca02c"),
                                 ("critical_acc", "critical token", "#d62728")):
        for split, ls in (("train", "--"), ("test", "-")):
            s = _star_series(results, f"{metric}_{split}")
            ax.plot(s.step, s.value, ls=ls, marker=".", color=color, label=f"{label}, {split} graphs")
    ax.axhline(1 / d, color="#999999", lw=0.8, ls=":", label="1/d")
    ax.set(xlabel="SFT iteration", ylabel="teacher-forced accuracy", ylim=(0, 1.02))
    ax.set_title(f"SFT on {results['task'].iloc[0]}, {int(results['n_problems'].iloc[0])} training graphs",
                 fontsize=9)
    ax.legend(fontsize=7)
    _tight(fig)
    return fig


def star_fig8a(results: pd.DataFrame) -> plt.Figure:
    """Fig. 8a: SFT's loss and per-step DPO's loss (from the middle under-trained start), and the
    Q-value of the critical token (rollouts from the start node) for both."""
    starts = _dpo_starts(results, "under-trained")
    start = starts[len(starts) // 2] if starts else None
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    s = _star_series(results, "sft_loss")
    left.plot(s.step, s.value, color=METHOD_COLORS["SFT"], label="SFT loss (per token)")
    if start is not None:
        d = _star_series(results, "dpo_loss", start)
        left.plot(d.step, d.value.rolling(5, min_periods=1).mean(), color=METHOD_COLORS["per-step DPO"],
                  label=f"per-step DPO loss (from iteration {start})")
    left.set(xlabel="iteration", ylabel="training loss", yscale="log")
    left.legend(fontsize=7)
    for split, ls in (("train", "--"), ("test", "-")):
        s = _star_series(results, f"q_critical_{split}")
        right.plot(s.step, s.value, ls=ls, marker=".", color=METHOD_COLORS["SFT"], label=f"SFT, {split} graphs")
        if start is not None:
            d = _star_series(results, f"q_critical_{split}", start)
            right.plot(d.step, d.value, ls=ls, marker=".", color=METHOD_COLORS["per-step DPO"],
                       label=f"per-step DPO from {start}, {split} graphs")
    right.set(xlabel="iteration", ylabel="Q of the critical token", ylim=(0, 1.02))
    right.legend(fontsize=7)
    _tight(fig)
    return fig


def _star_error(results: pd.DataFrame, kind: str, title: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 3.4))
    s = _star_series(results, "error_test")
    ax.plot(s.step, s.value, marker=".", color=METHOD_COLORS["SFT"], label="SFT (and continued SFT)")
    cmap = plt.get_cmap("Reds")
    starts = _dpo_starts(results, kind)
    for i, start in enumerate(starts):
        d = _star_series(results, "error_test", start)
        if d.empty:
            ax.plot([], [], ls="none", label=f"per-step DPO from {start}: no negatives")
            continue
        ax.plot(d.step, d.value, marker=".", color=cmap(0.45 + 0.5 * (i + 1) / len(starts)),
                label=f"per-step DPO from {start}")
    ax.set(xlabel="iteration (SFT, then per-step DPO)", ylabel="test error (exact path, greedy)", ylim=(0, 1.02))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    _tight(fig)
    return fig


def star_fig8b(results: pd.DataFrame) -> plt.Figure:
    """Fig. 8b: test error of per-step DPO from under-trained SFT checkpoints, and of SFT."""
    return _star_error(results, "under-trained", "per-step DPO from under-trained SFT checkpoints")


def star_fig8c(results: pd.DataFrame) -> plt.Figure:
    """Fig. 8c: test error of per-step DPO from an over-trained SFT checkpoint, and of SFT."""
    return _star_error(results, "over-trained", "per-step DPO from an over-trained SFT checkpoint")


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


def save_all(figs: dict[str, plt.Figure], preset: str) -> list[Path]:
    """Save a study's figures (its `figures(results)`) under data/figures/<preset>/."""
    return [save(fig, preset, name) for name, fig in figs.items()]
