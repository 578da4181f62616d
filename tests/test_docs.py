"""The README's commands are the Makefile's, and every generated table of the README and of the pages
under docs/ is exactly what its function computes from the committed results (`tools/docs.py`)."""
import re
from pathlib import Path

import pandas as pd
import pytest
from synthrl.presets import get_preset

from tools import docs
from tools.tables import NOTEBOOKS, tables

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
TABLES = tables()
# every generated block of every page: (page, marker)
BLOCKS = [(page, marker) for page in docs.pages(ROOT) for marker in docs.markers(page.read_text())]


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


def test_readme_is_short_and_leads_with_its_findings():
    assert len(README.splitlines()) < 250
    headings = re.findall(r"^## (.+)$", README, re.M)
    assert headings[:2] == ["Two commands", "Findings"]
    assert docs.markers(README)[0] == "findings"


def test_every_link_of_the_readme_and_the_docs_pages_leads_to_a_file():
    for page in docs.pages(ROOT):
        for target in re.findall(r"\]\((?!https?:|#|mailto:)([^)#]+)\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to a missing {target}"


def test_every_block_has_its_table_function_and_every_function_its_block():
    placed = [marker for _, marker in BLOCKS]
    assert len(placed) == len(set(placed)), "a block is generated in two places"
    assert set(placed) == set(TABLES)


def _committed(name: str) -> pd.DataFrame:
    from synthrl.results import load_results

    path = ROOT / "data" / "results" / f"{name}__cpu.csv"
    if not path.exists():
        pytest.skip(f"no committed cpu {name} results yet")
    return load_results(name, "cpu")


def test_quickstart_numbers_match_committed_results():
    df = _committed("quickstart")
    # the run's summary rows (not its loss curves or per-item rows): one per method and metric, so that
    # every pandas reads a scalar from them
    value = df[df["step"].isna() & df["item"].isna()].set_index(["method", "metric"])["value"]
    page = (ROOT / "docs" / "results" / "quickstart.md").read_text()
    lines = [line.strip("| ").split(" | ") for line in docs.section(page, "quickstart-results").splitlines()
             if line.startswith("| ")]
    header, rows = lines[0], lines[2:]
    k = get_preset("cpu").sampling.n
    error = next(i for i, h in enumerate(header) if h.startswith("test error (greedy"))
    at_k = header.index(f"pass@{k}")
    assert [row[0].split(" ")[0] for row in rows] == ["pi_base", "pi_sft", "RFT"]
    methods = ("pi_base", "SFT", "RFT")
    assert [float(row[error]) for row in rows] == [round(value[(m, "test_error")], 3) for m in methods]
    assert [float(row[at_k]) for row in rows[1:]] == [round(value[(m, f"pass@{k}")], 3) for m in ("SFT", "RFT")]


@pytest.mark.parametrize("page, marker", [b for b in BLOCKS if b[1] in TABLES],
                         ids=[f"{p.name}:{m}" for p, m in BLOCKS if m in TABLES])
def test_generated_tables_match_committed_results(page, marker):
    """Each generated table (the findings, every study's claims and means, the regime check, the probes,
    the benchmarks) holds exactly the rows its function computes from the committed cpu results."""
    try:
        table = TABLES[marker]()
    except FileNotFoundError as e:
        pytest.skip(f"not committed: {e}")
    assert docs.rows(page.read_text(), marker) == docs.markdown(table)[2:]


def test_the_findings_name_every_study_claim_once_with_its_notebook():
    findings = TABLES["findings"]()
    from synthrl.cli import study_module
    from synthrl.results import load_results

    for name, notebook in NOTEBOOKS.items():
        claims = study_module(name).claims(load_results(name, "cpu"))
        mine = findings[findings.study.str.contains(f"notebooks/{notebook}.ipynb", regex=False)]
        assert mine.claim.tolist() == claims.claim.tolist() and mine.verdict.tolist() == claims.verdict.tolist()
        assert not mine.duplicated(["setting", "claim"]).any(), f"{name}: a claim twice in one setting"
        assert (ROOT / "notebooks" / f"{notebook}.ipynb").exists()


def test_regime_probes_are_defined_in_code():
    from synthrl.probes import regime

    assert set(regime.committed()) <= set(regime.PROBES)


def test_update_rewrites_only_the_blocks():
    """`make docs` on a committed page changes nothing (it is up to date), and on a stale block puts the
    computed rows back; an empty block is filled in place."""
    page = (ROOT / "docs" / "regime.md").read_text()
    only = {m: f for m, f in TABLES.items() if m == "regime-probes"}
    assert docs.update(page, only)[0] == page
    row = docs.rows(page, "regime-probes")[0]
    stale = page.replace(row, row.replace("gsm8k-like", "typo", 1), 1)
    assert stale != page and docs.update(stale, only)[0] == page
    start = page.index("\n", page.index("<!-- regime-probes")) + 1
    emptied = page[:start] + page[page.index("<!-- /regime-probes"):]
    assert docs.update(emptied, only)[0] == page
    with pytest.raises(KeyError, match="closing"):
        docs.markers("<!-- regime-probes: no closing -->\n| a |\n")
