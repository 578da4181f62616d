"""Real data for the `paper` preset: GSM8K from the hub through `datasets`, or from a local
JSONL file in the same format ({"question", "answer"} with the answer ending "#### N").

GSM8K's reference solutions carry calculator annotations ("<<48/2=24>>") and end with
"#### 72"; we strip the annotations and end the solution with "The answer is 72", the answer
line our verifier reads, so every task is checked by the same bounded code.
MATH (\\boxed{} answers, checked with math-verify) is not wired yet.
"""
from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path

from synthrl.datafiles import DataFormatError, read_jsonl
from synthrl.tasks.base import Problem, split_lines
from synthrl.verify import answers_match, extract_answer, normalize_integer

HUB_IDS = {"gsm8k": ("openai/gsm8k", "main")}
_CALCULATOR = re.compile(r"<<[^<>]{0,200}>>")


def gsm8k_problem(row: dict, where: str) -> Problem:
    """A GSM8K row as a Problem; `where` names the file and line (or split and index) for errors."""
    reasoning, sep, final = str(row["answer"]).rpartition("####")
    answer = normalize_integer(final)
    if not sep or answer is None:
        raise DataFormatError(f"{where}: answer does not end with '#### <integer>'")
    steps = split_lines(_CALCULATOR.sub("", reasoning))
    solution = "\n".join([*steps, f"The answer is {answer}"])
    uid = row.get("uid") or "gsm8k-" + hashlib.sha1(str(row["question"]).encode()).hexdigest()[:12]
    return Problem(uid=str(uid), question=str(row["question"]).strip(), answer=answer, solution=solution)


class HubMathTask:
    """GSM8K: problems, the prompt, the verifier and the step splitter (no exact step labels)."""

    def __init__(self, name: str = "gsm8k", path: str | Path | None = None):
        if name not in HUB_IDS:
            raise NotImplementedError(f"task {name!r} has no loader yet; available: {sorted(HUB_IDS)}")
        self.name = name
        self.path = Path(path) if path is not None else None

    def load(self, split: str) -> list[Problem]:
        if self.path is not None:
            return [gsm8k_problem(r, f"{self.path}:{i}")
                    for i, r in enumerate(read_jsonl(self.path, required=("question", "answer")), start=1)]
        from datasets import load_dataset  # needs hub access (or a local datasets cache)

        hub_id, config = HUB_IDS[self.name]
        rows = load_dataset(hub_id, config, split=split)
        return [gsm8k_problem(r, f"{hub_id}[{split}][{i}]") for i, r in enumerate(rows)]

    def make_problems(self, split: str, n: int, seed: int) -> list[Problem]:
        problems = self.load(split)
        random.Random(seed).shuffle(problems)
        return problems[:n]

    def prompt(self, problem: Problem) -> str:
        return f"Question: {problem.question}\nAnswer:\n"

    def is_correct(self, problem: Problem, text: str) -> bool:
        return answers_match(extract_answer(text), problem.answer)

    def split_steps(self, text: str) -> list[str]:
        return split_lines(text)

    def vocabulary(self) -> list[str]:
        raise TypeError("GSM8K uses the pretrained model's own tokenizer, not a world vocabulary")
