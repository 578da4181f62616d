"""How well Monte-Carlo credit finds the steps the arith world knows are wrong, as the number of
rollouts per prefix grows: tells users how many rollouts they need."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from synthrl.credit import TraceCredit
from synthrl.tasks.arith import ArithWorld, first_wrong_step
from synthrl.tasks.base import Problem


def auc(positives: list[float], negatives: list[float]) -> float:
    """P(a positive scores above a negative), ties counted half (the Mann-Whitney statistic)."""
    if not positives or not negatives:
        return float("nan")
    ranks = rankdata(np.concatenate([positives, negatives]))
    u = ranks[: len(positives)].sum() - len(positives) * (len(positives) + 1) / 2
    return float(u / (len(positives) * len(negatives)))


def validate(world: ArithWorld, problems: list[Problem], credits: list[TraceCredit],
             rollout_counts: tuple[int, ...] = (1, 2, 4, 8, 16), definition: str = "min") -> pd.DataFrame:
    """For each n in `rollout_counts` (nested subsets of the recorded rollouts):

    - first_pit_agreement: among traces with a wrong step, how often the estimated first pit is
      the exact first wrong step;
    - where it is not: first_pit_early (an earlier step, of which first_pit_early_irrelevant at a
      step labelled irrelevant: true but unneeded, yet the policy rarely recovers after it),
      first_pit_late (a later step: the policy still succeeds after the first wrong step) and
      first_pit_none (no pit: no prefix scores below the start, or every prefix has a success);
      the four rates sum to 1;
    - drop_auc: how well the Q drop at a step (-A_i) separates wrong steps from right ones, over
      the steps up to each trace's first wrong step (later steps inherit its wrong values).
    """
    rows = []
    for n in rollout_counts:
        counts = dict.fromkeys(("agreement", "early", "early_irrelevant", "late", "none"), 0)
        total, wrong_drops, right_drops = 0, [], []
        for c, labels, pit in _labelled(world, problems, credits, n):
            total += 1
            found = c.first_pit(definition)
            kind = ("none" if found is None else "agreement" if found == pit else "early" if found < pit
                    else "late")
            counts[kind] += 1
            counts["early_irrelevant"] += kind == "early" and labels[found] == "irrelevant"
            drops = -c.advantages
            wrong_drops.append(float(drops[pit]))
            right_drops += [float(drops[i]) for i in range(pit) if labels[i] == "right"]
        rates = {f"first_pit_{k}": v / total if total else float("nan") for k, v in counts.items()}
        rows.append({"n_rollouts": n, "definition": definition, "traces": total, **rates,
                     "drop_auc": auc(wrong_drops, right_drops)})
    return pd.DataFrame(rows)


def _labelled(world: ArithWorld, problems: list[Problem], credits: list[TraceCredit], n: int):
    """(credit with n rollouts per prefix, exact labels, exact first wrong step) of each trace that
    has a wrong step, in order."""
    by_uid = {p.uid: p for p in problems}
    for credit in credits:
        c = credit.truncated(n)
        labels = world.label_steps(by_uid[c.uid], "\n".join(c.steps))
        pit = first_wrong_step(labels)
        if pit is not None:
            yield c, labels, pit


def hits(world: ArithWorld, problems: list[Problem], credits: list[TraceCredit], n: int,
         definition: str = "min") -> list[bool]:
    """Per trace with a wrong step, in order: is the estimated first pit (n rollouts per prefix)
    the exact first wrong step? The paired outcomes a McNemar test compares across n or estimators."""
    return [c.first_pit(definition) == pit for c, _, pit in _labelled(world, problems, credits, n)]
