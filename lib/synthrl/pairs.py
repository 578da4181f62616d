"""D-: pi_sft's incorrect samples, the raw material of preference pairs (the negative-data study
builds its pairs here). For now: the negatives that credit assignment scores."""
from __future__ import annotations

import random

from synthrl.tasks.arith import first_wrong_step
from synthrl.tasks.base import Problem


def negative_traces(world, d_syn: list[Problem], sampled: list[dict], n: int, seed: int):
    """Up to n incorrect samples of pi_sft, one per problem, each with an exactly labelled wrong
    step (a seeded random choice)."""
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
