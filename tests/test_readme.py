"""The README's commands are the Makefile's, and its numbers are the committed results'."""
import re
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_shows_the_two_make_commands_first():
    first_block = re.search(r"```\n(.*?)```", README, re.S).group(1)
    assert [line.split()[:2] for line in first_block.strip().splitlines()] == [["make", "demo"], ["make", "test"]]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_quickstart_numbers_match_committed_results():
    path = ROOT / "data" / "results" / "quickstart__cpu.csv"
    if not path.exists():
        pytest.skip("no committed cpu quickstart results yet")
    df = pd.read_csv(path)
    value = df.set_index(["method", "metric"])["value"]
    section = README.split("<!-- quickstart-results")[1].split("<!-- /quickstart-results")[0]
    shown = [float(x) for x in re.findall(r"\| ([01]\.\d{3})(?= \|)", section)]
    assert shown == [round(value[m], 3) for m in [("pi_base", "test_error"), ("SFT", "test_error"),
                                                  ("SFT", "pass@4"), ("RFT", "test_error"), ("RFT", "pass@4")]]


@pytest.mark.parametrize("study", ["positive_scaling", "positive_scaling_lr", "star_graph"])
def test_readme_claims_tables_match_committed_results(study):
    """Each row of a study's claims table in the README is a row of `claims()` of its committed
    cpu results (the columns of the table, in order)."""
    import importlib

    path = ROOT / "data" / "results" / f"{study}__cpu.csv"
    if not path.exists():
        pytest.skip(f"no committed cpu {study} results yet")
    marker = study.replace("_", "-") + "-results"
    section = README.split(f"<!-- {marker}")[1].split(f"<!-- /{marker}")[0]
    table = importlib.import_module(f"synthrl.studies.{study}").claims(pd.read_csv(path))
    for row in table.astype(str).itertuples(index=False):
        assert "| " + " | ".join(row) + " |" in section
