"""The small protocol every task world follows (design.md, `tasks/`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

STEP_LABELS = ("right", "wrong", "irrelevant")


@dataclass(frozen=True)
class Problem:
    """One problem x with its reference solution y and final answer.

    `meta` holds what a world needs to check or label a solution (JSON-serializable, so a
    problem round-trips through a JSONL file unchanged).
    """

    uid: str
    question: str
    answer: str
    solution: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> "Problem":
        return cls(**{k: row[k] for k in ("uid", "question", "answer", "solution", "meta") if k in row})


class Task(Protocol):
    """What the pipeline asks of a world: problems, prompts, reference solutions, a verifier."""

    name: str
    # What reads a text's answer, with its version ("arith-answer-line/1"): in the cache key of every
    # stored `correct` label, so a checker's change re-labels instead of keeping old labels
    checker: str

    def make_problems(self, split: str, n: int, seed: int) -> list[Problem]: ...

    def prompt(self, problem: Problem) -> str: ...

    def is_correct(self, problem: Problem, text: str) -> bool: ...

    # Whether a solution (or a prefix of one) has ended: it states an answer as the verifier reads one.
    # Credit does not roll out a finished prefix; it scores it.
    def is_finished(self, problem: Problem, text: str) -> bool: ...

    # The final answer a text states, as `is_correct` reads it (None: none), in worlds whose solutions end in
    # one (not the star graph): self-consistency (`synthrl.synthesis`) votes on it
    def final_answer(self, text: str) -> str | None: ...

    def split_steps(self, text: str) -> list[str]: ...

    # A world that knows the truth also labels each step: label_steps(problem, text) -> list of STEP_LABELS


def split_lines(text: str) -> list[str]:
    """Steps are lines (paper.md: one line each unless a task says otherwise)."""
    return [line.strip() for line in text.split("\n") if line.strip()]
