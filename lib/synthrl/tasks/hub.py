"""Real data for the `paper` preset: GSM8K from the hub through `datasets`, or from a local
JSONL file in the same format ({"question", "answer"} with the answer ending "#### N").

GSM8K's reference solutions carry calculator annotations ("<<48/2=24>>") and end with
"#### 72"; we strip the annotations and end the solution with "The answer is 72". Outputs are read
by `synthrl.answers.gsm8k_answer`: strictly for rewards ("#### N", "The answer is N", "A: N",
\\boxed{N}; the number the marker points at, never a negated, hedged or two-number one), and
flexibly (the last number) as a second reading that evaluation reports beside it.

MATH (Hendrycks et al. 2021; {"problem", "solution"} rows, the answer in the solution's last
\\boxed{}) is checked by `synthrl.answers.math_correct`: math-verify's symbolic comparison of the two
boxed answers ("0.5" for "\\frac{1}{2}"), a normalised string match where it cannot parse.
"""
from __future__ import annotations

import hashlib
import logging
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from synthrl.datafiles import DataFormatError, numbered_jsonl
from synthrl.tasks.base import Problem, split_lines
from synthrl.answers import CHECKER_VERSION, READINGS, gsm8k_answer, gsm8k_correct, math_correct
from synthrl.verify import boxed_answer

MATH_SUBJECTS = ("algebra", "counting_and_probability", "geometry", "intermediate_algebra", "number_theory",
                 "prealgebra", "precalculus")
log = logging.getLogger(__name__)
_CALCULATOR = re.compile(r"<<[^<>]{0,200}>>")


def gsm8k_problem(row: dict, where: str) -> Problem:
    """A GSM8K row as a Problem; `where` names the file and line (or split and index) for errors."""
    reasoning, sep, final = str(row["answer"]).rpartition("####")
    answer = gsm8k_answer("####" + final) if sep else None
    if answer is None:
        raise DataFormatError(f"{where}: answer does not end with '#### <number>'")
    steps = split_lines(_CALCULATOR.sub("", reasoning))
    solution = "\n".join([*steps, f"The answer is {answer}"])
    uid = row.get("uid") or "gsm8k-" + hashlib.sha1(str(row["question"]).encode()).hexdigest()[:12]
    return Problem(uid=str(uid), question=str(row["question"]).strip(), answer=answer, solution=solution)


def math_problem(row: dict, where: str) -> Problem:
    """A MATH row ({"problem", "solution"}) as a Problem; the answer is the solution's last \\boxed{}."""
    answer = boxed_answer(str(row["solution"]))
    if answer is None:
        raise DataFormatError(f"{where}: solution has no \\boxed{{...}} answer")
    uid = row.get("uid") or "math-" + hashlib.sha1(str(row["problem"]).encode()).hexdigest()[:12]
    return Problem(uid=str(uid), question=str(row["problem"]).strip(), answer=answer,
                   solution=str(row["solution"]).strip())


def _gsm8k_correct(problem: Problem, text: str, reading: str = "strict") -> bool:
    return gsm8k_correct(problem.answer, text, reading)


def _math_correct(problem: Problem, text: str, reading: str = "boxed") -> bool:
    return math_correct(problem.answer, text)


def unique_problems(problems: list[Problem], where: list[str]) -> list[Problem]:
    """Each uid once: a problem repeated whole (same question and answer) is kept once, and said; two
    different problems under one uid are an error naming both rows, since one problem's samples would
    then be scored against the other's answer (GRPO's rewards, RFT's D+)."""
    first: dict[str, tuple[Problem, str]] = {}
    kept = []
    for problem, place in zip(problems, where, strict=True):
        if problem.uid not in first:
            first[problem.uid] = (problem, place)
            kept.append(problem)
            continue
        other, other_place = first[problem.uid]
        if (other.question, other.answer) != (problem.question, problem.answer):
            raise DataFormatError(f"{place}: uid {problem.uid!r} is also {other_place}'s, a different problem; "
                                  "give each problem its own uid")
    if len(kept) < len(problems):
        log.warning("%s: %d repeated problems kept once", where[0].rsplit(":", 1)[0], len(problems) - len(kept))
    return kept


class Source(NamedTuple):
    """Where a dataset lives and how its rows and answers are read."""

    hub_id: str
    configs: tuple[str, ...]
    required: tuple[str, ...]  # fields every row must have
    make: Callable[[dict, str], Problem]  # row, where -> Problem
    is_correct: Callable[..., bool]  # (problem, text, reading) -> bool
    readings: tuple[str, ...]  # how answers are read, the reward's first (`synthrl.answers`)
    final_answer: Callable[[str], str | None]  # the answer a text states, as `is_correct` reads it, or None


SOURCES = {
    "gsm8k": Source("openai/gsm8k", ("main",), ("question", "answer"), gsm8k_problem, _gsm8k_correct,
                    READINGS, gsm8k_answer),
    "math": Source("EleutherAI/hendrycks_math", MATH_SUBJECTS, ("problem", "solution"), math_problem,
                   _math_correct, ("boxed",), boxed_answer),
}


class HubMathTask:
    """GSM8K or MATH: problems, the prompt, the verifier and the step splitter (no exact step labels)."""

    def __init__(self, name: str = "gsm8k", path: str | Path | None = None, files: dict | None = None):
        """`path`: one local JSONL file read for every split; `files`: a local file per split
        ({"train": ..., "test": ...}); neither: the hub."""
        if name not in SOURCES:
            raise NotImplementedError(f"task {name!r} has no loader yet; available: {sorted(SOURCES)}")
        self.name = name
        self.checker = f"synthrl.answers-{name}/{CHECKER_VERSION}"
        self.source = SOURCES[name]
        self.readings = self.source.readings
        self.path = Path(path) if path is not None else None
        self.files = {split: Path(f) for split, f in (files or {}).items()}

    def load(self, split: str) -> list[Problem]:
        src = self.source
        if self.files and split not in self.files:
            raise FileNotFoundError(f"{self.name}: no local file for the {split!r} split (data_files names "
                                    f"{sorted(self.files)})")
        path = self.files.get(split, self.path)
        if path is not None:
            numbered = numbered_jsonl(path, required=src.required, min_rows=1)
            rows, where = [r for _, r in numbered], [f"{path}:{line}" for line, _ in numbered]
        else:
            from datasets import load_dataset  # needs hub access (or a local datasets cache)

            parts = [(config, load_dataset(src.hub_id, config, split=split)) for config in src.configs]
            rows = [r for _, d in parts for r in d]
            where = [f"{src.hub_id}/{config}[{split}][{i}]" for config, d in parts for i in range(len(d))]
        return unique_problems([src.make(r, w) for r, w in zip(rows, where)], where)

    def make_problems(self, split: str, n: int, seed: int) -> list[Problem]:
        problems = self.load(split)
        if n > len(problems):
            source = self.files.get(split, self.path) or f"{self.source.hub_id} [{split}]"
            raise DataFormatError(f"{source}: {len(problems)} problems, but {n} were asked for")
        random.Random(seed).shuffle(problems)
        return problems[:n]

    def prompt(self, problem: Problem) -> str:
        return f"Question: {problem.question}\nAnswer:\n"

    def is_correct(self, problem: Problem, text: str, reading: str | None = None) -> bool:
        """Under the task's first reading (every reward's) unless another of `readings` is named."""
        return self.source.is_correct(problem, text, reading or self.readings[0])

    def is_finished(self, problem: Problem, text: str) -> bool:
        return self.source.final_answer(text) is not None

    def final_answer(self, text: str) -> str | None:
        return self.source.final_answer(text)

    def split_steps(self, text: str) -> list[str]:
        return split_lines(text)

    def vocabulary(self) -> list[str]:
        raise TypeError(f"{self.name} uses the pretrained model's own tokenizer, not a world vocabulary")
