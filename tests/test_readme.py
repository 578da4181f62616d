"""The README's commands are the Makefile's, and its numbers are the committed results'."""
import re
from pathlib import Path

import pandas as pd
import pytest

from synthrl.cli import readme_tables
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
    from synthrl.readme import section

    return section(README, marker)


def _committed(name: str) -> pd.DataFrame:
    from synthrl.results import load_results

    path = ROOT / "data" / "results" / f"{name}__cpu.csv"
    if not path.exists():
        pytest.skip(f"no committed cpu {name} results yet")
    return load_results(name, "cpu")


def test_readme_quickstart_numbers_match_committed_results():
    df = _committed("quickstart")
    # the run's summary rows (not its loss curves or per-item rows): one per method and metric, so that
    # every pandas reads a scalar from them
    value = df[df["step"].isna() & df["item"].isna()].set_index(["method", "metric"])["value"]
    shown = [float(x) for x in re.findall(r"\| ([01]\.\d{3})(?= \|)", _section("quickstart-results"))]
    k = get_preset("cpu").sampling.n
    assert shown == [round(value[m], 3) for m in [("pi_base", "test_error"), ("SFT", "test_error"),
                                                  ("SFT", f"pass@{k}"), ("RFT", "test_error"), ("RFT", f"pass@{k}")]]


@pytest.mark.parametrize("marker", list(readme_tables()))
def test_readme_generated_tables_match_committed_results(marker):
    """Each generated table in the README (every study's claims, the regime check, the regime
    probes) holds exactly the rows its function computes from the committed cpu results."""
    from synthrl.readme import markdown, rows

    try:
        table = readme_tables()[marker]()
    except FileNotFoundError as e:
        pytest.skip(f"not committed: {e}")
    assert rows(README, marker) == markdown(table)[2:]


def test_readme_regime_probes_are_defined_in_code():
    from synthrl.studies import regime_probe

    assert set(regime_probe.committed()) <= set(regime_probe.PROBES)


def test_readme_update_rewrites_only_the_blocks():
    """`python -m synthrl readme` on the committed README changes nothing (it is up to date), and on a
    stale block puts the computed rows back."""
    from synthrl.readme import update

    tables = {m: f for m, f in readme_tables().items() if m == "regime-probes"}
    text, _ = update(README, tables)
    assert text == README
    stale = README.replace("| as-is | gsm8k-like |", "| as-is | typo |", 1)
    assert stale != README and update(stale, tables)[0] == README
    start = README.index("<!-- regime-probes")
    start = README.index("\n", start) + 1
    emptied = README[:start] + README[README.index("<!-- /regime-probes"):]
    assert update(emptied, tables)[0] == README  # an empty block is filled in place
