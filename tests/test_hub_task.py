"""The GSM8K path, exercised offline on a tiny hand-written file in GSM8K's format."""
from pathlib import Path

import pytest

from synthrl.datafiles import DataFormatError
from synthrl.tasks.hub import HubMathTask

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "fixtures" / "gsm8k_tiny.jsonl"


def test_loads_gsm8k_format_and_checks_answers():
    task = HubMathTask("gsm8k", FIXTURE)
    problems = task.load("train")
    assert [p.answer for p in problems] == ["7", "24", "45"]
    p = problems[2]
    assert "<<" not in p.solution and p.solution.endswith("The answer is 45")
    assert task.split_steps(p.solution)[0] == "On Tuesday he reads 15 * 2 = 30 pages."
    assert task.is_correct(p, p.solution)
    assert not task.is_correct(p, "In total 44 pages.\nThe answer is 44")
    assert task.prompt(p).startswith("Question: Leo")


def test_bad_gsm8k_line_names_file_and_line(tmp_path):
    bad = tmp_path / "gsm8k.jsonl"
    bad.write_text(FIXTURE.read_text().splitlines()[0] + '\n{"question": "q", "answer": "no marker"}\n')
    with pytest.raises(DataFormatError, match=r"gsm8k\.jsonl:2: answer does not end"):
        HubMathTask("gsm8k", bad).load("train")


def test_math_is_not_wired_yet_and_says_so():
    with pytest.raises(NotImplementedError, match="no loader yet"):
        HubMathTask("math")
