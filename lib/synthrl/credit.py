"""Per-step credit: Monte-Carlo Q-values of step prefixes, the BoK transform, advantages and the
first pit (paper.md, Vocabulary).

For a trace y = y_1..y_L of problem x, prefix i is the prompt followed by steps 1..i (prefix 0 is
the bare problem). Q(x, y_1..y_i) is estimated by rolling out the SFT policy n times from prefix i
and counting final answers the verifier accepts. The paper scores prefixes under BoK(pi_sft) with
K = 5: if a fraction p of plain rollouts succeed, Q_BoK = 1 - (1 - p)^K. A prefix that already
states an answer is finished: its Q is that answer's reward, with no rollouts.

We write this ourselves: TRL and peers have no Monte-Carlo step-value estimator of this form.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from synthrl.config import FIRST_PIT_DEFINITIONS
from synthrl.sampling import Sampler, SamplingSpec, count_tokens
from synthrl.tasks.base import Problem

BOK_K = 5  # paper: rollouts under BoK(pi_sft) with K = 5


def bok(p: np.ndarray | float, k: int = BOK_K) -> np.ndarray:
    """Best-of-K success probability from a plain success rate p: 1 - (1 - p)^K."""
    return 1.0 - (1.0 - np.asarray(p, dtype=float)) ** k


def bok_se(p: np.ndarray | float, n: np.ndarray | int, k: int = BOK_K) -> np.ndarray:
    """Standard error of the BoK estimate by the delta method: K (1 - p)^(K-1) * sqrt(p(1-p)/n).
    Zero where n = 0 (a finished prefix, whose value is exact)."""
    p, n = np.asarray(p, dtype=float), np.asarray(n, dtype=float)
    se_p = np.sqrt(np.divide(p * (1 - p), n, out=np.zeros_like(p), where=n > 0))
    return k * (1 - p) ** (k - 1) * se_p


@dataclass
class TraceCredit:
    """Rollout outcomes for every prefix of one trace; Q, advantages and pits derive from them."""

    uid: str
    steps: list[str]
    outcomes: list[list[bool]]  # per prefix 0..L: each rollout's reward; empty where finished
    exact: list[float | None] = field(default_factory=list)  # reward of a finished prefix, else None
    k: int = BOK_K
    pooled: list[list[bool]] | None = None  # per prefix: rewards of pooled traces sharing it
    # per prefix: the tokens each rollout sampled (`sampling.count_tokens`), the price of the estimate
    rollout_tokens: list[list[int]] | None = None

    def _all(self) -> list[list[bool]]:
        return [o + q for o, q in zip(self.outcomes, self.pooled)] if self.pooled else self.outcomes

    @property
    def successes(self) -> list[int]:
        return [sum(o) for o in self._all()]

    @property
    def rollouts(self) -> list[int]:
        return [len(o) for o in self._all()]

    def truncated(self, n: int) -> "TraceCredit":
        """The same trace scored from only the first n sampled rollouts of each prefix (pooled
        traces kept): estimates for 1, 2, 4, ... rollouts are nested subsets of one run."""
        tokens = [t[:n] for t in self.rollout_tokens] if self.rollout_tokens is not None else None
        return TraceCredit(self.uid, self.steps, [o[:n] for o in self.outcomes], self.exact, self.k, self.pooled,
                           tokens)

    @property
    def sampled_tokens(self) -> int:
        """Tokens sampled by this trace's rollouts (pooled traces cost nothing: they were sampled anyway)."""
        if self.rollout_tokens is None:
            raise ValueError(f"the credit of {self.uid} has no token counts (estimated before they were recorded)")
        return sum(map(sum, self.rollout_tokens))

    @property
    def p(self) -> np.ndarray:
        """Plain success rate per prefix (the exact reward where the prefix is finished)."""
        return np.array([e if e is not None else s / n
                         for s, n, e in zip(self.successes, self.rollouts, self.exact)], dtype=float)

    @property
    def q(self) -> np.ndarray:
        """Q_BoK per prefix 0..L (a finished prefix keeps its reward: BoK of a certain 0 or 1)."""
        return bok(self.p, self.k)

    @property
    def q_se(self) -> np.ndarray:
        return bok_se(self.p, self.rollouts, self.k)

    @property
    def advantages(self) -> np.ndarray:
        """A_i = Q_i - Q_{i-1} for steps i = 1..L (length L)."""
        return np.diff(self.q)

    @property
    def advantage_se(self) -> np.ndarray:
        """Standard error of each advantage, treating the two prefixes' rollouts as independent."""
        se = self.q_se
        return np.sqrt(se[1:] ** 2 + se[:-1] ** 2)

    def first_pit(self, definition: str = "min") -> int | None:
        return first_pit(self.q, self.successes, self.rollouts, definition)


def first_pit(q: np.ndarray, successes: list[int], rollouts: list[int], definition: str = "min") -> int | None:
    """The critical step (0-based over steps 1..L), or None.

    'min': the first step at which Q reaches its lowest value over the trace (the paper); None if
    Q never falls below Q_0. 'no_success': the first step from which no rollout succeeds
    (Self-Explore, Hwang et al. 2024), counting a finished wrong prefix as no success.
    'max_drop' (ours, a diagnostic): the first step with the most negative advantage, None if no
    step lowers Q. With exact Q the paper's two find the first step after which the policy can no
    longer recover, which is later than the first error where the policy sometimes recovers from
    it; the largest drop is where most of the value is lost.
    """
    if definition not in FIRST_PIT_DEFINITIONS:
        raise ValueError(f"definition must be one of {FIRST_PIT_DEFINITIONS}, got {definition!r}")
    q = np.asarray(q, dtype=float)
    if len(q) < 2:
        return None
    if definition == "max_drop":
        drops = np.diff(q)
        return int(np.argmin(drops)) if drops.min() < 0 else None
    if definition == "min":
        steps_q = q[1:]
        lowest = steps_q.min()
        if lowest >= q[0]:
            return None
        return int(np.flatnonzero(steps_q == lowest)[0])
    for i in range(1, len(q)):
        if (rollouts[i] > 0 and successes[i] == 0) or (rollouts[i] == 0 and q[i] == 0):
            return i - 1
    return None


def step_prefixes(steps: list[str], sep: str = "\n") -> list[str]:
    """Prefix texts 0..L: '' then the first i steps, each ended by `sep` (a line's end in arith, a comma
    between star-graph nodes) so that the model starts a new step."""
    return ["".join(s + sep for s in steps[:i]) for i in range(len(steps) + 1)]


def estimate_q(sampler: Sampler, task, problems: list[Problem], traces: list[str], n_rollouts: int,
               temperature: float = 1.0, seed: int = 0, max_new_tokens: int = 96, k: int = BOK_K,
               pool: dict[str, list[str]] | None = None, sep: str = "\n") -> list[TraceCredit]:
    """Monte-Carlo Q for every step prefix of each (problem, trace), from `n_rollouts` each; `sep`
    ends each step of a prefix (`step_prefixes`).

    All unfinished prefixes of all traces go to the sampler in one call (it batches them); each
    rollout's tokens are counted by the sampler's tokenizer. With `pool`, see `with_pool`.
    """
    if len(problems) != len(traces):
        raise ValueError(f"{len(problems)} problems but {len(traces)} traces")
    spec = SamplingSpec(n=n_rollouts, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
    jobs = []  # (trace index, prefix index, prompt, prefix)
    credits = []
    for t, (problem, trace) in enumerate(zip(problems, traces)):
        steps = task.split_steps(trace)
        prefixes = step_prefixes(steps, sep)
        exact = [float(task.is_correct(problem, x)) if task.is_finished(problem, x) else None for x in prefixes]
        credits.append(TraceCredit(problem.uid, steps, [[] for _ in prefixes], exact, k,
                                   rollout_tokens=[[] for _ in prefixes]))
        jobs += [(t, i, task.prompt(problem), x) for i, x in enumerate(prefixes) if exact[i] is None]
    outs = sampler.sample([j[2] for j in jobs], spec, prefixes=[j[3] for j in jobs]) if jobs else []
    for (t, i, _, prefix), conts in zip(jobs, outs):
        problem = problems[t]
        credits[t].outcomes[i] = [task.is_correct(problem, prefix + c) for c in conts]
        credits[t].rollout_tokens[i] = count_tokens(sampler.tokenizer, conts, max_new_tokens)
    return with_pool(task, problems, credits, pool) if pool else credits


def with_pool(task, problems: list[Problem], credits: list[TraceCredit],
              pool: dict[str, list[str]]) -> list[TraceCredit]:
    """The paper's Fig. 10 variant: each trace in `pool` (uid -> traces sampled from the same
    policy for that problem, positive and negative) counts as one more rollout from every
    unfinished prefix it begins with, at no sampling cost. The scored trace itself is left out
    (one pooled trace with its very steps): it was chosen for failing, so counting it would pull
    its own prefixes' Q down."""
    out = []
    for problem, credit in zip(problems, credits):
        pooled: list[list[bool]] = [[] for _ in credit.outcomes]
        others = [(task.split_steps(t), t) for t in pool.get(problem.uid, [])]
        itself = next((i for i, (steps, _) in enumerate(others) if steps == credit.steps), None)
        if itself is not None:
            del others[itself]
        for other_steps, other in others:
            reward = task.is_correct(problem, other)
            for i in range(len(credit.steps) + 1):
                if credit.exact[i] is None and other_steps[:i] == credit.steps[:i]:
                    pooled[i].append(reward)
        out.append(dataclasses.replace(credit, pooled=pooled))
    return out
