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


def completion_nll(model, tokenizer, rows: list[dict], batch_size: int = 64) -> list[float]:
    """Mean negative log-likelihood per token of each row's completion given its prompt (no
    end-of-sequence token: the solution text only). Fig. 3 scores D_syn and D+ this way under
    pi_base."""
    import torch

    from synthrl.preference import batch_ids, encode, sequence_logps

    out = []
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        for i in range(0, len(rows), batch_size):
            encoded = [encode(tokenizer, r["prompt"], r["completion"], add_eos=False) for r in rows[i:i + batch_size]]
            ids, attention, response = (t.to(device) for t in batch_ids(
                [e[0] for e in encoded], [e[1] for e in encoded], tokenizer.pad_token_id))
            logps = sequence_logps(model, ids, attention, response)
            n_tokens = response.sum(-1).clamp(min=1)
            out += (-logps / n_tokens).tolist()
    return out
