"""Counter-based random streams: uniform draws, exact inverse-CDF sampling, keys that tell rows apart."""
import numpy as np
import torch
from scipy import stats

from synthrl import streams


def test_draws_are_uniform_and_independent_across_steps_and_keys():
    keys = streams.row_keys(0, [f"problem {i}" for i in range(2000)], [0] * 2000)
    assert len(set(keys.tolist())) == 2000
    a, b = streams.uniforms(keys, 0).numpy(), streams.uniforms(keys, 1).numpy()
    assert ((a >= 0) & (a < 1)).all()
    assert stats.kstest(a, "uniform").pvalue > 1e-3 and stats.kstest(b, "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.1  # steps are not the same draw
    again = streams.row_keys(0, [f"problem {i}" for i in range(2000)], [0] * 2000)
    assert torch.equal(keys, again) and not torch.equal(keys, streams.row_keys(1, [f"problem {i}" for i in range(2000)],
                                                                              [0] * 2000))


def test_a_row_samples_the_softmax_of_its_logits():
    """Chi-square of 20,000 draws (one row each, distinct keys) against softmax(logits / T)."""
    logits = torch.tensor([2.0, 0.5, 0.0, -1.0, -30.0])
    n = 20_000
    keys = streams.row_keys(5, ["same text"] * n, list(range(n)))
    for temperature in (1.0, 0.7):
        drawn = streams.pick(logits.expand(n, -1), temperature, keys, step=3)
        counts = np.bincount(drawn.numpy(), minlength=5)
        p = torch.softmax(logits.double() / temperature, -1).numpy()
        assert counts[4] == 0  # a token of (near) zero probability is never drawn
        assert stats.chisquare(counts[:4], p[:4] / p[:4].sum() * counts[:4].sum()).pvalue > 1e-3
    assert torch.equal(streams.pick(logits.expand(3, -1), 0.0, keys[:3], 0), torch.zeros(3, dtype=torch.long))


def test_a_row_draws_the_same_token_in_any_batch():
    logits = torch.randn(50, 11, generator=torch.Generator().manual_seed(0))
    keys = streams.row_keys(2, [f"t{i}" for i in range(50)], [i % 3 for i in range(50)])
    whole = streams.pick(logits, 1.0, keys, 7)
    order = torch.randperm(50, generator=torch.Generator().manual_seed(1))
    assert torch.equal(streams.pick(logits[order], 1.0, keys[order], 7), whole[order])
    assert torch.equal(streams.pick(logits[:5], 1.0, keys[:5], 7), whole[:5])
