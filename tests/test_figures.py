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


def test_figures_import_no_study():
    source = (ROOT / "lib" / "synthrl" / "figures.py").read_text()
    assert "synthrl.studies" not in source and "bootstrap" not in source
