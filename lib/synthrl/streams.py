"""Counter-based random streams for sampling: every draw is a function of (seed, the text sampled
from, which of its samples, the decoding step) alone, so that batch size, batch order and compaction
never change what is sampled.

torch's generators are sequential: one generator per batch makes a row's draws depend on which rows
share its batch. Counter-based generators (Salmon et al. 2011, "Parallel random numbers: as easy as
1, 2, 3"; JAX's threefry keys) hash a counter instead. torch has no such generator, so here is the
smallest one that serves: SplitMix64 (Steele et al. 2014) on int64 tensors, one uniform per row and
step, and inverse-CDF sampling of the next token from it (exact: P(token = v) = p_v).
"""
from __future__ import annotations

import hashlib

import torch

# In the cache key of every stage that samples at a temperature: draws made another way are other samples
KEY = "splitmix64 inverse-cdf streams"
_M64 = (1 << 64) - 1


def _signed(x: int) -> int:
    """An unsigned 64-bit constant as torch's int64 holds it (two's complement)."""
    x &= _M64
    return x - (1 << 64) if x >> 63 else x


_GOLDEN = _signed(0x9E3779B97F4A7C15)
_MIX1 = _signed(0xBF58476D1CE4E5B9)
_MIX2 = _signed(0x94D049BB133111EB)


def _shr(x: torch.Tensor, s: int) -> torch.Tensor:
    """Logical right shift of int64 (torch's >> is arithmetic)."""
    return (x >> s) & ((1 << (64 - s)) - 1)


def mix(x: torch.Tensor) -> torch.Tensor:
    """SplitMix64's finaliser on int64 tensors (multiplication wraps modulo 2^64, as the C original's)."""
    x = x + _GOLDEN
    x = (x ^ _shr(x, 30)) * _MIX1
    x = (x ^ _shr(x, 27)) * _MIX2
    return x ^ _shr(x, 31)


def _text_hash(text: str) -> int:
    return _signed(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little"))


def row_keys(seed: int, texts: list[str], samples: list[int]) -> torch.Tensor:
    """One int64 key per row: row r is the `samples[r]`-th sample of `texts[r]`. A sample is a function of
    (seed, text, index) alone: a text asked for twice gets the same samples, as from a cache."""
    h = torch.tensor([_text_hash(t) for t in texts], dtype=torch.long)
    j = torch.tensor(list(samples), dtype=torch.long)
    if len(j) != len(h):
        raise ValueError(f"{len(texts)} texts but {len(samples)} sample indices")
    return mix(mix(h ^ mix(torch.full_like(h, _signed(seed)))) ^ j)


def uniforms(keys: torch.Tensor, step: int) -> torch.Tensor:
    """(rows,) float64 in [0, 1): the draw of each row's key at decoding step `step` (53 bits)."""
    return _shr(mix(keys ^ mix(torch.full_like(keys, step))), 11).double() * 2.0 ** -53


def pick(logits: torch.Tensor, temperature: float, keys: torch.Tensor, step: int) -> torch.Tensor:
    """Next tokens (rows,): temperature sampling, each row from its own stream; 0 = greedy."""
    if temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1).double()
    cdf = probs.cumsum(-1)
    u = uniforms(keys.to(logits.device), step).to(cdf.device) * cdf[:, -1]
    return torch.searchsorted(cdf, u[:, None], right=True)[:, 0].clamp(max=logits.shape[-1] - 1)


class StreamPicker:
    """A transformers LogitsProcessor that samples each row from its own stream and leaves only that
    token possible, for `generate` run greedily (do_sample=False): the one way to give `generate`
    per-row randomness. `start`: the input length, so that the first new token is step 0."""

    def __init__(self, keys: torch.Tensor, temperature: float, start: int):
        self.keys, self.temperature, self.start = keys, temperature, start

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        chosen = pick(scores, self.temperature, self.keys, input_ids.shape[1] - self.start)
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, chosen[:, None], 0.0)
