"""D_syn from a capable model, the paper's first stage: a model, prompted through the Sampler interface
with problems of a seed set, writes new problems like them, then k step-by-step solutions of each; a
new problem is kept only when its solutions' final answers agree (self-consistency, Wang et al. 2023)
and parse. The paper asks GPT-4 / Gemini 1.5 Pro for new problems like the real training set
(paper.md, D_syn); on a GPU the writer is any instruction model through vLLM, here a stand-in.

Model output is data: new questions are cut at the first blank line or the task prompt's text after a
question (GSM8K's "\nAnswer:") and bounded in length; answers are read by the task's own bounded extractor, never evaluated.
"""
from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, replace

from synthrl.sampling import Sampler, SamplingSpec
from synthrl.tasks.base import Problem

@dataclass(frozen=True)
class SynthesisConfig:
    n_candidates: int = 64  # new problems asked for; our choice (kept ones are fewer)
    shots: int = 3  # seed problems shown per request; our choice
    k: int = 4  # solutions per new problem, whose answers vote (self-consistency); our choice
    # kept when the most common answer has at least this share of the k votes (a strict majority of 4
    # needs 3: our choice)
    min_agreement: float = 0.75
    temperature: float = 0.7  # as pi_sft is sampled (RFT's 0.7)
    max_question_chars: int = 600  # a longer "question" is a run-on, dropped; GSM8K's longest is ~900 chars
    max_new_tokens: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.n_candidates, self.shots, self.k) < 1 or not 0 < self.min_agreement <= 1:
            raise ValueError("need n_candidates, shots, k >= 1 and 0 < min_agreement <= 1")


def prompt_parts(task, seed: Problem) -> tuple[str, str]:
    """What the task's prompt puts before and after a question ("Question: ", "\nAnswer:\n" for GSM8K)."""
    before, sep, after = task.prompt(seed).partition(seed.question)
    if not sep:
        raise ValueError(f"{task.name}'s prompt does not contain the question verbatim; cannot ask for new ones")
    return before, after


def question_prompt(task, seeds: list[Problem], rng: random.Random, shots: int) -> str:
    """`shots` seed problems, each as the task prompts it, solved; then the start of a new prompt, for the
    writer to continue with a new question."""
    shown = rng.sample(seeds, min(shots, len(seeds)))
    return "".join(f"{task.prompt(p)}{p.solution}\n\n" for p in shown) + prompt_parts(task, seeds[0])[0]


def cut_question(text: str, stops: tuple[str, ...], max_chars: int) -> str | None:
    """The new question a continuation writes: up to the first blank line or stop (the task prompt's
    text around a question), stripped; None if empty or longer than max_chars."""
    end = len(text)
    for stop in ("\n\n", *(s for s in stops if s.strip() or s == "\n")):
        i = text.find(stop)
        if i != -1:
            end = min(end, i)
    question = text[:end].strip()
    return question if question and len(question) <= max_chars else None


def vote(task, problem: Problem, solutions: list[str], answers: list[str | None]) -> tuple[str | None, list[bool]]:
    """The most common final answer of the solutions (`answers`, each solution's; ties: the first seen) and
    which solutions the task's own checker accepts for it (so "0.5" and "\\frac12" count as one answer
    where the checker says so)."""
    best, accepted = None, [False] * len(solutions)
    for answer, _ in Counter(a for a in answers if a is not None).most_common():
        ok = [task.is_correct(Problem(problem.uid, problem.question, answer), s) for s in solutions]
        if sum(ok) > sum(accepted):
            best, accepted = answer, ok
    return best, accepted


def synthesize(task, sampler: Sampler, seeds: list[Problem], cfg: SynthesisConfig) -> tuple[list[Problem], list[dict]]:
    """New problems with one solution each (D_syn), and a record of every candidate: its question, the
    answers its solutions gave, the vote, and why it was kept or dropped."""
    rng = random.Random(f"synthesis/{cfg.seed}")
    prompts = [question_prompt(task, seeds, rng, cfg.shots) for _ in range(cfg.n_candidates)]
    spec = SamplingSpec(n=1, temperature=cfg.temperature, max_new_tokens=cfg.max_new_tokens, seed=cfg.seed)
    written = [outs[0] for outs in sampler.sample(prompts, spec)]
    known = {p.question.strip() for p in seeds}
    stops = prompt_parts(task, seeds[0])
    record, candidates = [], {}
    for text in written:
        question = cut_question(text, stops, cfg.max_question_chars)
        why = ("no question" if question is None else "a seed problem" if question in known
               else "a repeat" if question in candidates else None)
        if why:
            record.append({"question": question, "kept": False, "why": why})
            continue
        uid = "syn-" + hashlib.sha1(question.encode()).hexdigest()[:12]
        candidates[question] = Problem(uid=uid, question=question, answer="")
    problems = list(candidates.values())
    solved = sampler.sample([task.prompt(p) for p in problems], replace(spec, n=cfg.k, seed=cfg.seed + 1))
    kept = []
    need = cfg.min_agreement * cfg.k
    for p, solutions in zip(problems, solved):
        answers = [task.final_answer(s) for s in solutions]
        answer, accepted = vote(task, p, solutions, answers)
        keep = answer is not None and sum(accepted) >= need
        record.append({"question": p.question, "uid": p.uid, "answers": answers, "answer": answer,
                       "votes": sum(accepted), "kept": keep,
                       "why": "agreed" if keep else "no answer parses" if answer is None else "answers disagree"})
        if keep:
            solution = solutions[accepted.index(True)]
            kept.append(Problem(uid=p.uid, question=p.question, answer=answer, solution=solution))
    return kept, record
