"""`make figures` regenerates every committed figure from the committed results, and figures only
draw: the figure module imports no study."""
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_make_figures_regenerates_every_committed_figure(tmp_path, monkeypatch):
    committed = sorted(p.name for p in (ROOT / "data" / "figures" / "cpu").glob("*.png"))
    if not committed:
        pytest.skip("no committed cpu figures")
    shutil.copytree(ROOT / "data" / "results", tmp_path / "results")
    monkeypatch.setenv("SYNTHRL_DATA", str(tmp_path))
    from synthrl.cli import main

    assert main(["figures", "--preset", "cpu"]) == 0
    made = sorted(p.name for p in (tmp_path / "figures" / "cpu").glob("*.png"))
    assert made == committed
    assert all((tmp_path / "figures" / "cpu" / name).stat().st_size > 10_000 for name in made)


def test_figures_only_draw_they_import_no_study_and_nothing_that_computes_a_result():
    """figures.py imports (at any depth) plotting and data libraries only: no study, probe, fit, bootstrap
    or verdict, so that every number a figure shows was computed by the study that calls it."""
    import ast

    tree = ast.parse((ROOT / "lib" / "synthrl" / "figures.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    kit = {m for m in imported if m.split(".")[0] == "synthrl"}
    assert not {m for m in kit if m.startswith(("synthrl.studies", "synthrl.probes", "synthrl.bench"))}
    assert not kit & {"synthrl.scaling", "synthrl.verdicts", "synthrl.cells", "synthrl.pipeline"}
    assert not {m for m in imported if m.split(".")[0] in {"scipy", "sklearn", "statsmodels"}}


def test_log_axes_are_labelled_without_mathtext():
    """Every figure ends in figures._tight: a log axis keeps matplotlib's choice of labelled ticks, in
    plain numbers, so that no redraw goes through the mathtext parser (shared state that a widget
    callback on the kernel's subshell thread once broke)."""
    import matplotlib.pyplot as plt

    from synthrl import figures

    fig, (a, b) = plt.subplots(1, 2)
    a.plot([64, 128, 256, 512, 1024], [0.75, 0.73, 0.69, 0.63, 0.60])
    a.set(xscale="log", yscale="log")
    b.plot([64, 128, 256], [1, 2, 3])
    b.set_xscale("log", base=2)
    figures._tight(fig)
    fig.canvas.draw()
    labels = [t.get_text() for ax in (a, b) for axis in (ax.xaxis, ax.yaxis)
              for t in axis.get_ticklabels() + axis.get_ticklabels(minor=True)]
    assert labels and not any("$" in t for t in labels)
    assert {"100", "1000"} <= set(labels) and {"0.6", "0.7"} <= set(labels)  # decades, and minor ticks below one
    assert {"64", "128", "256"} <= set(labels)  # base 2
    plt.close(fig)
