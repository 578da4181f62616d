"""D- and the paper's training data built from it (paper.md, Methods): pi_sft's incorrect samples,
per-step preference pairs cut at a first pit (estimated by `credit`, or exact by the world's labels),
naive pairs of whole responses, advantage weights (AWR) and advantage filtering (Fig. 11).

Every function takes plain rows and returns plain rows or indices: a sample row is {uid, prompt,
completion, correct} as `pipeline.samples` writes it; a pair is the preference trainer's {prompt,
chosen, rejected, rejected_is_prefix}. TRL builds no such data: its DPO pairs are whole responses.
"""
from __future__ import annotations

import random

import numpy as np

from synthrl.credit import TraceCredit, step_prefixes
from synthrl.tasks.arith import first_wrong_step
from synthrl.tasks.base import Problem

NEGATIVES_PER_PROBLEM = 8  # paper: 8 incorrect samples of pi_sft per problem (its practical recipe)
CHOSEN_SOURCES = ("self", "teacher")
AWR_MAX_WEIGHT = 20.0  # Peng et al. 2019 (AWR) clip exp(A / beta) at 20


def distinct_samples(sample_rows: list[dict], correct: bool, per_problem: int) -> list[dict]:
    """Samples with the given correctness, deduplicated per problem (whitespace-insensitive), at most
    `per_problem` each, in sampling order: {uid, prompt, completion}."""
    kept: dict[str, list[str]] = {}
    out = []
    for r in sample_rows:
        if bool(r["correct"]) != correct:
            continue
        norm = " ".join(r["completion"].split())
        seen = kept.setdefault(r["uid"], [])
        if norm in seen or len(seen) >= per_problem:
            continue
        seen.append(norm)
        out.append({"uid": r["uid"], "prompt": r["prompt"], "completion": r["completion"]})
    return out


def d_minus(sample_rows: list[dict], per_problem: int = NEGATIVES_PER_PROBLEM) -> list[dict]:
    """D-: pi_sft's distinct incorrect samples, up to `per_problem` per problem (the paper: 8)."""
    return distinct_samples(sample_rows, correct=False, per_problem=per_problem)


def chosen_by_problem(source: str, d_syn: list[Problem], d_plus: list[dict]) -> dict[str, list[str]]:
    """The correct solutions a pair's chosen side is drawn from, per problem uid.

    "self": pi_sft's own distinct positives (D+); a problem pi_sft never solved has none, and its
    negatives make no pair. "teacher": D_syn's one solution of every problem. The paper says only "a
    correct solution"; the kit's default is "self" (`NegativeConfig.chosen`): the chosen and rejected
    sides then come from one policy, so the pair's contrast is the rejected step and not the
    teacher's style, and Fig. 3 shows pi_sft's own positives are the easier ones to fit.
    """
    if source == "self":
        out: dict[str, list[str]] = {}
        for r in d_plus:
            out.setdefault(r["uid"], []).append(r["completion"])
        return out
    if source == "teacher":
        return {p.uid: [p.solution] for p in d_syn}
    raise ValueError(f"chosen source must be one of {CHOSEN_SOURCES}, got {source!r}")


def pair_row(prompt: str, chosen: str, rejected: str, rejected_is_prefix: bool, **extra) -> dict:
    """One preference pair, the one place every pair the kit trains on is built: TRL's preference format
    (`prompt`, `chosen`, `rejected`), and whether the rejected response is a prefix, which the preference
    trainer (`synthrl.preference`) scores without an end-of-sequence token (TRL's DPOTrainer appends one
    to every response, so it cannot express a cut negative)."""
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected, "rejected_is_prefix": rejected_is_prefix,
            **extra}


def _pick(chosen: dict[str, list[str]], uid: str, j: int) -> str | None:
    """The j-th negative of a problem is paired with its (j mod n)-th positive: every positive is used."""
    options = chosen.get(uid)
    return options[j % len(options)] if options else None


def cut_after(steps: list[str], pit: int) -> str:
    """A negative cut right after its first pit: steps 1..pit+1, each ended by its newline, exactly
    the prefix whose Q was estimated (no end-of-sequence token follows)."""
    if not 0 <= pit < len(steps):
        raise ValueError(f"pit {pit} is not a step of a {len(steps)}-step trace")
    return step_prefixes(steps)[pit + 1]


def per_step_pairs(task, negatives: list[dict], pits: list[int | None],
                   chosen: dict[str, list[str]]) -> list[dict]:
    """The paper's per-step pairs: for each negative with a pit, chosen = a correct solution of its
    problem, rejected = the negative cut after its pit (a prefix). A negative with no pit (its Q
    never falls) or whose problem has no chosen solution makes no pair."""
    if len(negatives) != len(pits):
        raise ValueError(f"{len(negatives)} negatives but {len(pits)} pits")
    pairs, count = [], {}
    for r, pit in zip(negatives, pits):
        j = count[r["uid"]] = count.get(r["uid"], -1) + 1
        positive = _pick(chosen, r["uid"], j)
        if pit is None or positive is None:
            continue
        pairs.append(pair_row(r["prompt"], positive, cut_after(task.split_steps(r["completion"]), pit), True,
                              uid=r["uid"], pit=pit))
    return pairs


def naive_pairs(negatives: list[dict], chosen: dict[str, list[str]]) -> list[dict]:
    """Standard DPO's pairs (Rafailov et al. 2023; Pal et al. 2024): a whole positive against a whole
    negative of the same problem, both ending with EOS."""
    pairs, count = [], {}
    for r in negatives:
        j = count[r["uid"]] = count.get(r["uid"], -1) + 1
        positive = _pick(chosen, r["uid"], j)
        if positive is not None:
            pairs.append(pair_row(r["prompt"], positive, r["completion"], False, uid=r["uid"]))
    return pairs


def estimated_pits(credits: list[TraceCredit], definition: str) -> list[int | None]:
    """Each negative's first pit from its Monte-Carlo Q (`credit.first_pit`, one declared definition)."""
    return [c.first_pit(definition) for c in credits]


def oracle_pits(world, problems: dict[str, Problem], negatives: list[dict]) -> list[int | None]:
    """Each negative's exact first wrong step, from the world's step labels (only a generated world
    can label every step; it shows what Monte-Carlo noise in the pit costs)."""
    return [first_wrong_step(world.label_steps(problems[r["uid"]], r["completion"])) for r in negatives]


def awr_weights(credit: TraceCredit, beta: float, max_weight: float = AWR_MAX_WEIGHT) -> np.ndarray:
    """Advantage-weighted regression's per-step weights exp(A_i / beta) (Peng et al. 2019), clipped at
    `max_weight`: the objective per-step DPO shares its optimum with (the paper's Theorem 6.1)."""
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    return np.minimum(np.exp(credit.advantages / beta), max_weight)


def advantage_filter(credits: list[TraceCredit], drop: float = 0.5) -> list[int]:
    """Advantage-filtered RFT (Fig. 11): the indices of the responses kept after dropping the
    fraction `drop` (the paper: the bottom 50%) with the lowest minimum step advantage. Ties are
    broken by order (the earlier response is dropped first), so exactly floor(drop * n) go."""
    if not 0 <= drop < 1:
        raise ValueError(f"drop must lie in [0, 1), got {drop}")
    worst = [float(c.advantages.min()) if len(c.advantages) else 0.0 for c in credits]
    n_drop = int(drop * len(credits))
    dropped = set(sorted(range(len(credits)), key=lambda i: (worst[i], i))[:n_drop])
    return [i for i in range(len(credits)) if i not in dropped]


def negative_traces(world, d_syn: list[Problem], sampled: list[dict], n: int, seed: int):
    """Up to n incorrect samples of pi_sft, one per problem, each with an exactly labelled wrong
    step (a seeded random choice): the traces credit assignment is validated on (notebook 05)."""
    by_uid = {p.uid: p for p in d_syn}
    rows = [r for r in sampled if not r["correct"]]
    random.Random(seed).shuffle(rows)
    problems, traces, seen = [], [], set()
    for r in rows:
        p = by_uid[r["uid"]]
        if r["uid"] in seen or first_wrong_step(world.label_steps(p, r["completion"])) is None:
            continue
        seen.add(r["uid"])
        problems.append(p)
        traces.append(r["completion"])
        if len(traces) == n:
            break
    return problems, traces
