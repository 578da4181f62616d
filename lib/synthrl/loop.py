"""What the kit's own training loops (`synthrl.preference`, `synthrl.awr`) share: how many optimizer
steps a run takes, and which examples each step takes. TRL's trainers do this for SFT, RFT and GRPO;
these two losses are ours (each module says why), so their loops are too."""
from __future__ import annotations

from collections.abc import Iterator

import torch


def total_steps(n_examples: int, batch_size: int, epochs: float, max_steps: int) -> int:
    """`max_steps` when > 0, else `epochs` passes over the examples (at least one step)."""
    if max_steps > 0:
        return max_steps
    return max(1, round(epochs * -(-n_examples // batch_size)))


def shuffled_batches(n_examples: int, batch_size: int, total: int, seed: int) -> Iterator[torch.Tensor]:
    """`total` batches of example indices: a fresh permutation each pass (seeded), the last batch of a
    pass possibly short, passes repeated until `total` batches are given."""
    generator = torch.Generator().manual_seed(seed)
    given = 0
    while given < total:
        for batch in torch.randperm(n_examples, generator=generator).split(batch_size):
            yield batch
            given += 1
            if given >= total:
                return
