"""The README's commands are the Makefile's, and its numbers are the committed results'."""
import re
from pathlib import Path

import pandas as pd
import pytest

from synthrl.cli import RESULTS, study_module
from synthrl.presets import get_preset

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


@pytest.fixture(autouse=True)
def _committed_data(monkeypatch):
    """These tests read the committed results (and write nothing)."""
    monkeypatch.setenv("SYNTHRL_DATA", str(ROOT / "data"))


def test_readme_shows_the_two_make_commands_first():
    first_block = re.search(r"```\n(.*?)```", README, re.S).group(1)
    assert [line.split()[:2] for line in first_block.strip().splitlines()] == [["make", "demo"], ["make", "test"]]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _section(marker: str) -> str:
    assert f"<!-- {marker}" in README, f"the README has no {marker} table"
    return README.split(f"<!-- {marker}")[1].split(f"<!-- /{marker}")[0]


def _committed(name: str) -> pd.DataFrame:
    from synthrl.results import load_results

    path = ROOT / "data" / "results" / f"{name}__cpu.csv"
    if not path.exists():
        pytest.skip(f"no committed cpu {name} results yet")
    return load_results(name, "cpu")


def test_readme_quickstart_numbers_match_committed_results():
    df = _committed("quickstart")
    value = df.set_index(["method", "metric"])["value"]
    shown = [float(x) for x in re.findall(r"\| ([01]\.\d{3})(?= \|)", _section("quickstart-results"))]
    k = get_preset("cpu").sampling.n
    assert shown == [round(value[m], 3) for m in [("pi_base", "test_error"), ("SFT", "test_error"),
                                                  ("SFT", f"pass@{k}"), ("RFT", "test_error"), ("RFT", f"pass@{k}")]]


@pytest.mark.parametrize("name", list(RESULTS))
def test_readme_claims_tables_match_committed_results(name):
    """Each study's claims table in the README holds exactly the rows of `claims()` of its
    committed cpu results (the columns of the table, in order)."""
    table = study_module(name).claims(_committed(name))
    section = _section(name.replace("_", "-") + "-claims")
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| ---")][1:]
    assert rows == ["| " + " | ".join(row) + " |" for row in table.astype(str).itertuples(index=False)]


def test_readme_regime_table_matches_committed_results():
    from synthrl.regime import check

    table = check(_committed("positive_scaling"))
    table["holds"] = table["holds"].map({True: "yes", False: "no"})
    rows = [line for line in _section("regime-results").splitlines()
            if line.startswith("| ") and not line.startswith("| ---")][1:]
    assert rows == ["| " + " | ".join(row) + " |" for row in table.astype(str).itertuples(index=False)]


def test_readme_regime_probes_match_the_committed_probes():
    from synthrl.studies import regime_probe

    found = regime_probe.committed()
    if not found:
        pytest.skip("no committed regime probes")
    table = regime_probe.ledger(found)
    rows = [line for line in _section("regime-probes").splitlines()
            if line.startswith("| ") and not line.startswith("| ---")][1:]
    assert rows == ["| " + " | ".join(row) + " |" for row in table.astype(str).itertuples(index=False)]
    assert set(found) <= set(regime_probe.PROBES)  # every committed probe is defined in code
