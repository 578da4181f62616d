"""D_syn written by a capable model: new problems like a seed set, kept only where
the writer's k solutions agree on a parsed answer. A scripted writer makes every branch exact."""
import pytest

from synthrl.synthesis import SynthesisConfig, cut_question, synthesize
from synthrl.tasks.arith import ArithConfig, ArithWorld

WORLD = ArithWorld(ArithConfig(min_steps=1, max_steps=2, max_value=10, n_names=8))
SEEDS = WORLD.make_problems("train", 4, 0)


class ScriptedWriter:
    """Writes the scripted questions in turn, then for each question the scripted solutions."""

    def __init__(self, questions: list[str], solutions: dict[str, list[str]]):
        self.questions, self.solutions, self.prompts = list(questions), solutions, []

    def sample(self, prompts, spec, prefixes=None):
        self.prompts += prompts
        if all(p.endswith("\n\n") for p in prompts):  # arith prompts nothing before a question
            return [[self.questions.pop(0)] for _ in prompts]
        return [self.solutions[p.rstrip("\n")][:spec.n] for p in prompts]


def _answer(n) -> str:
    return f"so it is {n} .\nanswer {n}"


def test_kept_where_the_answers_agree_and_every_other_candidate_says_why():
    agreed, split, silent = "Ann has 3 pears . How many ?", "Bob has 2 figs . How many ?", "Cat has 1 fig . How many ?"
    questions = [f"{agreed}\nso it is 7 .", f"{split}\n\nBob has more", agreed, SEEDS[0].question, "", silent,
                 "x" * 700]
    solutions = {agreed: [_answer(7), _answer(7), "no answer here", _answer(7)],
                 split: [_answer(7), _answer(8), _answer(7), _answer(9)],
                 silent: ["I cannot", "", "still nothing", "no"]}
    writer = ScriptedWriter(questions, solutions)
    kept, record = synthesize(WORLD, writer, SEEDS, SynthesisConfig(n_candidates=len(questions), k=4, shots=2))
    assert [(p.question, p.answer) for p in kept] == [(agreed, "7")]
    assert WORLD.is_correct(kept[0], kept[0].solution) and kept[0].uid.startswith("syn-")
    why = {(r["question"], r["why"]) for r in record}
    assert why == {(agreed, "agreed"), (split, "answers disagree"), (silent, "no answer parses"),
                   (agreed, "a repeat"), (SEEDS[0].question, "a seed problem"), (None, "no question")}
    assert len(record) == len(questions)
    assert next(r for r in record if r["question"] == split)["votes"] == 2  # 2 of 4 < 0.75
    assert all(p.count("answer ") == 2 for p in writer.prompts[:len(questions)])  # 2 solved seeds, then a new one


def test_cut_question_is_bounded_and_stops_at_the_next_part():
    gsm8k = ("Question: ", "\nAnswer:\n")  # the text around a question in GSM8K's prompt
    assert cut_question("  Ann has 3 .\nAnswer:\n3", gsm8k, 100) == "Ann has 3 ."
    assert cut_question("Ann has 3 . Question: Bob", gsm8k, 100) == "Ann has 3 ."
    assert cut_question("Ann has 3 .\nso 3", ("", "\n"), 100) == "Ann has 3 ."  # arith: one line
    assert cut_question("a" * 101, gsm8k, 100) is None and cut_question("\n\n", gsm8k, 100) is None


def test_config_is_checked():
    with pytest.raises(ValueError):
        SynthesisConfig(min_agreement=0)
