"""n continuations of each of many prefixes, decoded with shared-prefix ("cascade") attention.

Monte-Carlo Q (synthrl.credit) rolls a policy out n times from every step prefix of a trace.
transformers' `generate` from a key/value cache repeated n times stores each prefix n times and
copies the whole cache at every decoding step (DynamicCache concatenates), and it keeps decoding
sequences that have ended until the longest one in the batch does. Neither transformers nor
PyTorch has attention that reads one copy of a prefix for many continuations (vLLM's prefix
caching and FlashInfer's cascade attention do, on GPUs), so we add it to the model's own forward
pass through transformers' `AttentionInterface`:

- the prompt + prefix of each group is encoded once (prefill, with the model's usual attention);
- the keys/values of the continuations go into buffers preallocated for `max_new_tokens`;
- at each step, the n queries of a group attend to its prefix in one batched matmul, and each
  attends to its own continuation; both score blocks share one softmax (exact attention);
- a group whose n continuations have all ended leaves the batch.

Supported: Llama-architecture models with as many key/value heads as query heads (the kit's
from-scratch models); `supports()` says so, and `HFSampler` falls back to `generate` otherwise.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
from transformers import AttentionInterface

ATTENTION = "synthrl_cascade"


@dataclass
class _Prefixes:
    """Per layer, the keys and values of each group's prompt + prefix (G, H, Lp, d), left padded;
    `bias` (G, 1, 1, Lp) masks the padding; `n` continuations per group."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    bias: torch.Tensor
    n: int

    def select(self, keep: torch.Tensor) -> "_Prefixes":
        return _Prefixes([k[keep] for k in self.keys], [v[keep] for v in self.values], self.bias[keep], self.n)


class _Continuations:
    """The `past_key_values` of a decoding step: every row's own generated tokens, in buffers
    preallocated for the whole run (no copy per step). Step t writes slot t."""

    def __init__(self, keys: list[torch.Tensor], values: list[torch.Tensor]):
        self.keys, self.values, self.t = keys, values, 0

    @classmethod
    def empty(cls, n_layers: int, rows: int, heads: int, length: int, head_dim: int, like: torch.Tensor):
        def make():
            return [like.new_empty(rows, heads, length, head_dim) for _ in range(n_layers)]
        return cls(make(), make())

    def update(self, key: torch.Tensor, value: torch.Tensor, layer_idx: int, *args, **kwargs):
        self.keys[layer_idx][:, :, self.t] = key[:, :, 0]
        self.values[layer_idx][:, :, self.t] = value[:, :, 0]
        return self.keys[layer_idx][:, :, :self.t + 1], self.values[layer_idx][:, :, :self.t + 1]

    def select(self, rows: torch.Tensor) -> "_Continuations":
        """The buffers of `rows` only: fresh buffers of the full length, of which only the slots written so
        far (0..t) are copied (a full copy would move every empty slot too)."""
        def pick(buffers):
            out = []
            for b in buffers:
                written = b[:, :, :self.t + 1][rows]
                kept = b.new_empty(written.shape[0], *b.shape[1:])
                kept[:, :, :self.t + 1] = written
                out.append(kept)
            return out
        out = _Continuations(pick(self.keys), pick(self.values))
        out.t = self.t
        return out


def _cascade_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0,
                       cascade: _Prefixes | None = None, **kwargs):
    """query (B, H, 1, d) with B = G * n rows, group-major; key/value (B, H, t+1, d): each row's
    continuation so far. Returns (B, 1, H, d) as transformers' attention functions do."""
    if cascade is None:
        raise RuntimeError(f"attention {ATTENTION!r} runs only inside synthrl.cascade.sample")
    k_p, v_p = cascade.keys[module.layer_idx], cascade.values[module.layer_idx]
    g, h, lp, d = k_p.shape
    n, b = cascade.n, query.shape[0]
    scaling = d ** -0.5 if scaling is None else scaling
    q = query.reshape(g, n, h, d).transpose(1, 2)  # (G, H, n, d): a group's queries together
    s_prefix = torch.matmul(q, k_p.transpose(-1, -2)) * scaling + cascade.bias  # (G, H, n, Lp)
    s_own = (torch.matmul(query, key.transpose(-1, -2)) * scaling).reshape(g, n, h, -1).transpose(1, 2)
    p = torch.softmax(torch.cat([s_prefix, s_own], dim=-1).float(), dim=-1).to(query.dtype)
    from_prefix = torch.matmul(p[..., :lp], v_p)  # (G, H, n, d)
    p_own = p[..., lp:].transpose(1, 2).reshape(b, h, 1, -1)
    from_own = torch.matmul(p_own, value).reshape(g, n, h, d).transpose(1, 2)
    return (from_prefix + from_own).transpose(1, 2).reshape(b, 1, h, d), None


AttentionInterface.register(ATTENTION, _cascade_attention)


def supports(model) -> bool:
    config = getattr(model, "config", None)
    return (config is not None and getattr(config, "model_type", None) == "llama"
            and not hasattr(model, "peft_config") and not getattr(model, "is_loaded_in_4bit", False)
            and getattr(config, "num_key_value_heads", None) == config.num_attention_heads)


@contextmanager
def _attention(model, name: str):
    previous = model.config._attn_implementation
    model.set_attn_implementation(name)
    try:
        yield
    finally:
        model.set_attn_implementation(previous)


def left_padded_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids of left-padded inputs: 0 at each row's first real token (padding gets 0)."""
    return (attention_mask.cumsum(-1) - 1).clamp(min=0)


def _pick(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Plain temperature sampling (what `generate` does with top_k/top_p off); 0 = greedy."""
    if temperature == 0:
        return logits.argmax(-1)
    return torch.multinomial(torch.softmax(logits.float() / temperature, dim=-1), 1)[:, 0]


@torch.no_grad()
def sample(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, n: int, temperature: float,
           max_new_tokens: int, eos_token_id: int, pad_token_id: int,
           compact_at: float = 0.5) -> torch.Tensor:
    """(G * n, max_new_tokens) token ids: n continuations of each of the G left-padded inputs,
    grouped by input; after a row's end-of-sequence token, `pad_token_id`. Groups whose rows have
    all ended leave the batch once they are `compact_at` of the groups still decoding."""
    if not supports(model):
        raise ValueError("synthrl.cascade supports Llama models with as many key/value heads as heads")
    g = input_ids.shape[0]
    positions = left_padded_positions(attention_mask)
    out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions, use_cache=True,
                logits_to_keep=1)
    layers = out.past_key_values.layers
    bias = torch.zeros(attention_mask.shape, dtype=layers[0].keys.dtype, device=input_ids.device)
    bias = bias.masked_fill(attention_mask == 0, torch.finfo(bias.dtype).min)[:, None, None, :]
    prefixes = _Prefixes([x.keys for x in layers], [x.values for x in layers], bias, n)
    start = attention_mask.sum(-1)  # the position of each group's first new token
    k0 = layers[0].keys
    own = _Continuations.empty(len(layers), g * n, k0.shape[1], max_new_tokens, k0.shape[3], k0)
    logits = out.logits[:, -1].repeat_interleave(n, 0)
    tokens = torch.full((g * n, max_new_tokens), pad_token_id, dtype=torch.long, device=input_ids.device)
    rows = torch.arange(g * n, device=input_ids.device)  # original row of each decoding row
    groups = torch.arange(g, device=input_ids.device)
    ended = torch.zeros(g * n, dtype=torch.bool, device=input_ids.device)
    with _attention(model, ATTENTION):
        for t in range(max_new_tokens):
            nxt = _pick(logits, temperature).masked_fill(ended, pad_token_id)
            tokens[rows, t] = nxt
            ended = ended | (nxt == eos_token_id)
            if t == max_new_tokens - 1 or bool(ended.all()):
                break
            done = ended.view(-1, n).all(-1)
            if done.float().mean() >= compact_at:
                keep = ~done
                keep_rows = keep.repeat_interleave(n)
                prefixes, own = prefixes.select(keep), own.select(keep_rows)
                rows, groups, ended, nxt = rows[keep_rows], groups[keep], ended[keep_rows], nxt[keep_rows]
            own.t = t
            position = (start[groups] + t).repeat_interleave(n)[:, None]
            logits = model(input_ids=nxt[:, None], position_ids=position, past_key_values=own, use_cache=True,
                           cascade=prefixes, logits_to_keep=1).logits[:, -1]
    return tokens
