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


def test_readme_positive_scaling_claims_match_committed_results():
    path = ROOT / "data" / "results" / "positive_scaling__cpu.csv"
    if not path.exists():
        pytest.skip("no committed cpu positive-scaling results yet")
    from synthrl.studies.positive_scaling import claims

    section = README.split("<!-- positive-scaling-results")[1].split("<!-- /positive-scaling-results")[0]
    for row in claims(pd.read_csv(path)).itertuples():
        assert f"| {row.setting} | {row.claim} | {row.paper} | {row.ours} | {row.verdict} |" in section


def test_readme_star_graph_claims_match_committed_results():
    path = ROOT / "data" / "results" / "star_graph__cpu.csv"
    if not path.exists():
        pytest.skip("no committed cpu star-graph results yet")
    from synthrl.studies.star_graph import claims

    section = README.split("<!-- star-graph-results")[1].split("<!-- /star-graph-results")[0]
    for row in claims(pd.read_csv(path)).itertuples():
        assert f"| {row.claim} | {row.paper} | {row.ours} | {row.verdict} |" in section
