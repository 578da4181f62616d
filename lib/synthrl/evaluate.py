"""Evaluation: greedy test error on the held-out split, and pass@k."""
from __future__ import annotations

from math import comb

from synthrl.sampling import Sampler, SamplingSpec
from synthrl.tasks.base import Problem, Task


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al. 2021, eq. 1)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def greedy_outputs(sampler: Sampler, task: Task, problems: list[Problem], max_new_tokens: int) -> list[str]:
    spec = SamplingSpec(n=1, temperature=0.0, max_new_tokens=max_new_tokens)
    return [s[0] for s in sampler.sample([task.prompt(p) for p in problems], spec)]


def test_error(task: Task, problems: list[Problem], outputs: list[str]) -> float:
    """Fraction of problems whose output's final answer is wrong (the paper's test error)."""
    if len(problems) != len(outputs) or not problems:
        raise ValueError(f"{len(problems)} problems but {len(outputs)} outputs")
    return sum(not task.is_correct(p, y) for p, y in zip(problems, outputs)) / len(problems)


def mean_pass_at_k(task: Task, problems: list[Problem], samples: list[list[str]], k: int) -> float:
    """pass@k averaged over problems, from n >= k samples each."""
    scores = [pass_at_k(len(s), sum(task.is_correct(p, y) for y in s), k) for p, s in zip(problems, samples)]
    return sum(scores) / len(scores)
