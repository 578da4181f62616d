"""`make html`: study notebooks rendered from the committed cpu results, explore cells left out."""
import json
import re
from pathlib import Path

import pandas as pd
import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat is in the notebook and dev extras")

from tools import render

ROOT = Path(__file__).resolve().parents[1]
WIDGET_CELL = re.compile(r"\b\w+_(explorer|inspector)\(")


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_widget_cell_is_tagged_explore_and_only_those(path):
    for cell in json.loads(path.read_text())["cells"]:
        tagged = render.EXPLORE_TAG in cell.get("metadata", {}).get("tags", [])
        calls = cell["cell_type"] == "code" and bool(WIDGET_CELL.search("".join(cell["source"])))
        assert tagged == calls, "".join(cell["source"])[:120]


def test_explore_cells_are_left_out_with_one_line_for_a_run_of_them():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("claim"),
        nbformat.v4.new_code_cell("a = 1", metadata={"tags": ["explore"]}),
        nbformat.v4.new_code_cell("b = 2", metadata={"tags": ["explore"]}),
        nbformat.v4.new_code_cell("claims", metadata={"tags": ["parameters"]})])
    kept = [c.source for c in render.without_explore(nb).cells]
    assert kept == ["claim", render.LEFT_OUT, "claims"]


RESULTS = {"02_positive_scaling": "positive_scaling", "03_rft_spurious": "rft_spurious",
           "04_negative_scaling": "negative_scaling", "05_q_values": "q_values", "06_star_graph": "star_graph"}


def test_every_study_notebook_is_rendered_from_the_committed_run_and_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    assert sorted(RESULTS) == sorted(render.STUDY_NOTEBOOKS)
    for name, study in RESULTS.items():
        assert f"docs/notebooks/{name}.html" in readme
        html = (ROOT / "docs" / "notebooks" / f"{name}.html").read_text()
        commits = pd.read_csv(ROOT / "data" / "results" / f"{study}__cpu.csv", dtype={"git_commit": str}).git_commit
        # the page shows the committed run's provenance: re-run a study, then `make html`
        assert all(c in html for c in commits.unique()), f"{name}.html is older than {study}__cpu.csv: make html"


def test_a_page_keeps_its_content_and_moves_styles_to_the_shared_sheet():
    html = ("<html><head><meta charset='utf-8'/><script src='x.js'></script><style>.a {b: c}</style>"
            "<script type='module'>\nlet x = 1;\n</script></head><body><p>claim</p>"
            "<style scoped=''>.dataframe {d: e}</style><table class='dataframe'></table>"
            "<style scoped=''>.dataframe {d: e}</style><pre>&lt;style&gt;</pre>\n<div>\n<pre>a = 1\nb = 2</pre>\n"
            "</div></body></html>")
    page, css = render.static_page(html, "06_star_graph")
    assert "<script" not in page and ".a {b: c}" not in page
    assert "<p>claim</p>" in page and "<table class='dataframe'>" in page and "<pre>&lt;style&gt;</pre>" in page
    assert page.count("<style scoped=''>.dataframe {d: e}</style>") == 2  # a page's own styles stay in it
    assert f'href="{render.STYLESHEET}"' in page and "<title>06_star_graph</title>" in page
    assert css == ".a {b: c}\n"  # the theme alone, shared by every page
    assert page.count("\n") == 1 and "<pre>a = 1\nb = 2</pre>" in page  # line breaks only where they show


@pytest.mark.slow
def test_a_study_notebook_renders_from_committed_results_with_figures(tmp_path, monkeypatch):
    pytest.importorskip("nbconvert")
    monkeypatch.delenv("SYNTHRL_DATA")  # the committed results, read only; the run cache stays the test's own
    html = render.render("06_star_graph", "cpu", out_dir=tmp_path).read_text()
    assert html.count("<img") >= 2 and "data:image/png;base64" in html
    assert ".jp-Notebook" in (tmp_path / render.STYLESHEET).read_text()
    assert "Traceback" not in html  # (a cell that raises stops papermill, and render with it)
    assert render.LEFT_OUT.strip("*")[:40] in html  # the explorer is left out, and says where it runs


def test_a_page_shows_the_parameters_once_as_run():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('preset = "cpu"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell('# Parameters\npreset = "smoke"\n', metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("claims")])
    assert [c.source for c in render.one_parameters_cell(nb).cells] == ['# Parameters\npreset = "smoke"\n', "claims"]
