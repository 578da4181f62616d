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


def test_unknown_task_says_so():
    with pytest.raises(NotImplementedError, match="no loader yet"):
        HubMathTask("aime")


MATH_FIXTURE = FIXTURE.with_name("math_tiny.jsonl")


def test_loads_math_format_and_checks_boxed_answers():
    task = HubMathTask("math", MATH_FIXTURE)
    problems = task.load("train")
    assert [p.answer for p in problems] == ["\\frac{5}{6}", "4", "6"]
    assert all(task.is_correct(p, p.solution) for p in problems)
    frac = problems[0]
    assert task.is_correct(frac, "so the sum is $\\boxed{\\dfrac{5}{6}}$.")  # \\dfrac normalises to \\frac
    assert not task.is_correct(frac, "$\\boxed{\\frac{6}{5}}$")
    assert not task.is_correct(frac, "the answer is 5/6")  # no box, no answer
    assert task.split_steps(problems[1].solution) == ["Subtracting 3 gives $2x = 8$.", "Dividing by 2 gives $x = \\boxed{4}$."]


def test_math_row_without_a_box_names_file_and_line(tmp_path):
    bad = tmp_path / "math.jsonl"
    bad.write_text(MATH_FIXTURE.read_text().splitlines()[0] + '\n{"problem": "p", "solution": "no box"}\n')
    with pytest.raises(DataFormatError, match=r"math\.jsonl:2: solution has no"):
        HubMathTask("math", bad).load("train")


class _RecordingSampler:
    """Every continuation is empty; records the prefixes it is asked to roll out."""

    def __init__(self):
        self.prefixes = []
        self.tokenizer = lambda texts, add_special_tokens=False: {"input_ids": [t.split() for t in texts]}

    def sample(self, prompts, spec, prefixes=None):
        self.prefixes += list(prefixes or [])
        return [[""] * spec.n for _ in prompts]


@pytest.mark.parametrize("name, fixture", [("gsm8k", FIXTURE), ("math", MATH_FIXTURE)])
def test_credit_scores_a_finished_prefix_by_the_tasks_own_answer_format(name, fixture):
    """The task protocol's is_finished: a MATH prefix ends at its \\boxed{} answer, a GSM8K one at
    its answer statement; credit scores such a prefix and rolls out only the unfinished ones."""
    from synthrl.credit import estimate_q

    task = HubMathTask(name, fixture)
    problem = task.load("train")[1]
    steps = task.split_steps(problem.solution)
    assert task.is_finished(problem, problem.solution) and not task.is_finished(problem, steps[0])
    sampler = _RecordingSampler()
    (credit,) = estimate_q(sampler, task, [problem], [problem.solution], n_rollouts=2)
    assert credit.exact[-1] == 1.0 and credit.outcomes[-1] == []  # the finished, right solution: scored
    assert all(not task.is_finished(problem, x) for x in sampler.prefixes)
    assert len(sampler.prefixes) == len(steps)  # prefixes 0..L-1 rolled out, the last scored


def test_a_data_file_that_cannot_give_what_is_asked_says_so(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DataFormatError, match=r"empty\.jsonl: 0 rows, at least 1 needed"):
        HubMathTask("gsm8k", empty).load("train")
    with pytest.raises(DataFormatError, match=r"gsm8k_tiny\.jsonl: 3 problems, but 10 were asked for"):
        HubMathTask("gsm8k", FIXTURE).make_problems("train", 10, seed=0)


def test_duplicate_uids_name_both_rows_and_a_repeated_problem_is_kept_once(tmp_path, caplog):
    import json

    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    clash = tmp_path / "clash.jsonl"
    clash.write_text("\n".join(json.dumps({**r, "uid": "p1"}) for r in rows[:2]) + "\n")
    with pytest.raises(DataFormatError, match=r"clash\.jsonl:2: uid 'p1' is also .*clash\.jsonl:1's, a different"):
        HubMathTask("gsm8k", clash).load("train")
    repeated = tmp_path / "repeated.jsonl"
    repeated.write_text("\n".join(json.dumps(r) for r in [rows[0], rows[1], rows[0]]) + "\n")
    with caplog.at_level("WARNING"):
        problems = HubMathTask("gsm8k", repeated).load("train")
    assert len(problems) == 2 and "1 repeated problems kept once" in caplog.text
