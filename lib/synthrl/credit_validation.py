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
    - drop_auc: how well the Q drop at a step (-A_i) separates wrong steps from right ones, over
      the steps up to each trace's first wrong step (later steps inherit its wrong values).
    """
    by_uid = {p.uid: p for p in problems}
    rows = []
    for n in rollout_counts:
        hits, total, wrong_drops, right_drops = 0, 0, [], []
        for credit in credits:
            c = credit.truncated(n)
            labels = world.label_steps(by_uid[c.uid], "\n".join(c.steps))
            pit = first_wrong_step(labels)
            if pit is None:
                continue
            total += 1
            hits += c.first_pit(definition) == pit
            drops = -c.advantages
            wrong_drops.append(float(drops[pit]))
            right_drops += [float(drops[i]) for i in range(pit) if labels[i] == "right"]
        rows.append({"n_rollouts": n, "definition": definition, "traces": total,
                     "first_pit_agreement": hits / total if total else float("nan"),
                     "drop_auc": auc(wrong_drops, right_drops)})
    return pd.DataFrame(rows)
