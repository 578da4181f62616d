"""Spurious positives (paper claim 4, Figs. 2c and 4): samples whose final answer is right although a
step is wrong or irrelevant. The final-answer verifier cannot see them; the paper can only infer them
from estimated advantages. A generated world labels every step exactly (`label_steps`), so the kit
counts them, and builds RFT data sets that differ only in how many of them they hold."""
from __future__ import annotations

import random

from synthrl.credit import TraceCredit

# The paper's spurious steps: "wrong or irrelevant" (both are invisible to the verifier when the answer is right)
SPURIOUS_LABELS = ("wrong", "irrelevant")
KINDS = ("wrong", "irrelevant", "spurious")


def step_labels(world, by_uid: dict, rows: list[dict], text: str = "completion") -> list[list[str]]:
    """The exact label of every step of each row's `text` ('right', 'wrong', 'irrelevant')."""
    return [world.label_steps(by_uid[r["uid"]], r[text]) for r in rows]


def is_spurious(labels: list[str], spurious_labels: tuple[str, ...] = SPURIOUS_LABELS) -> bool:
    return any(label in spurious_labels for label in labels)


def fractions(labels: list[list[str]], spurious_labels: tuple[str, ...] = SPURIOUS_LABELS) -> dict[str, float]:
    """The fraction of solutions with a wrong step, with an irrelevant step, and with a step of any
    spurious label; NaN for no solutions."""
    n = len(labels)
    if n == 0:
        return {kind: float("nan") for kind in KINDS}
    return {"wrong": sum("wrong" in lab for lab in labels) / n,
            "irrelevant": sum("irrelevant" in lab for lab in labels) / n,
            "spurious": sum(is_spurious(lab, spurious_labels) for lab in labels) / n}


def label_pools(positives: list[dict], labels: list[list[str]],
                spurious_labels: tuple[str, ...] = SPURIOUS_LABELS) -> dict[str, list[dict]]:
    """Fig. 4's pools by the exact labels: every positive ("as sampled"), those with no step of a spurious
    label ("clean (exact labels)": every step right, with the paper's labels) and the rest ("spurious only")."""
    flags = [is_spurious(lab, spurious_labels) for lab in labels]
    return {"as sampled": list(positives), "clean (exact labels)": [r for r, f in zip(positives, flags) if not f],
            "spurious only": [r for r, f in zip(positives, flags, strict=True) if f]}


def lucky_rate(labels: list[list[str]], correct: list[bool]) -> tuple[float, int]:
    """Of the samples with a wrong step, the fraction whose final answer is still right (a lucky
    answer; about 1/M by chance in a world whose amounts lie in [0, M)), and how many there were."""
    wrong = [c for lab, c in zip(labels, correct, strict=True) if "wrong" in lab]
    return (sum(wrong) / len(wrong) if wrong else float("nan")), len(wrong)


def advantage_kept(credits: list[TraceCredit], threshold: float) -> list[bool]:
    """Fig. 4's cleaning by estimated advantages: keep a positive unless one of its steps has an
    advantage (Q_i - Q_{i-1}, `credit`) below `threshold`."""
    return [len(c.advantages) == 0 or float(c.advantages.min()) >= threshold for c in credits]


def arm_size(pools: dict[str, list], cap: int = 0) -> int:
    """Fig. 4's size: the smallest pool's, at most `cap` (if > 0)."""
    n = min(len(p) for p in pools.values())
    return min(n, cap) if cap > 0 else n


def equal_arms(pools: dict[str, list], seed: int, cap: int = 0) -> dict[str, list]:
    """Fig. 4's RFT data sets at one size (`arm_size`): each arm a seeded random draw of that many rows from
    its pool, so that the arms differ in what they hold, not in how much."""
    n = arm_size(pools, cap)
    return {name: random.Random(f"{seed}:{name}").sample(pool, n) for name, pool in pools.items()}
