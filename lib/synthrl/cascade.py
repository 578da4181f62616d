"""n continuations of each of many prefixes, decoded with shared-prefix ("cascade") attention.

Monte-Carlo Q (synthrl.credit) rolls a policy out n times from every step prefix of a trace.
transformers' `generate` from a key/value cache repeated n times stores each prefix n times and
copies the whole cache at every decoding step (DynamicCache concatenates), and it keeps decoding
sequences that have ended until the longest one in the batch does. Neither transformers nor
PyTorch has attention that reads one copy of a prefix for many continuations (vLLM's prefix
caching and FlashInfer's cascade attention do, on GPUs), so we decode with our own:

- the prompt + prefix of each group is encoded once (prefill, with the model's usual attention);
- the keys/values of the continuations go into buffers preallocated for `max_new_tokens`;
- at each step, the n queries of a group attend to its prefix in one batched matmul, and each
  attends to its own continuation; both score blocks share one softmax (exact attention);
- a group whose n continuations have all ended leaves the batch.

Each decoding step calls the model's own modules (embedding, norms, projections, MLP, head) from a
step of ours, `decode_step`, rather than `LlamaForCausalLM.forward` with a registered attention: at
small batches the forward's per-call work (mask and cache plumbing, rotary tables recomputed at every
step, output classes) is a large share of a step (probe: data/results/probes/decode_step__cpu.csv).
The step reads rotary tables computed once per call by the model's own `rotary_emb`, and fuses
q/k/v and gate/up into one matmul each (the same dot products).

Supported: Llama-architecture models with as many key/value heads as query heads (the kit's
from-scratch models); `supports()` says so, and `HFSampler` falls back to `generate` otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

import synthrl.streams


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


class Workspace:
    """Buffers for the continuations' keys and values, kept from one `sample` call to the next (a sampler
    holds one). Fresh buffers each call cost more than the copies into them on a CPU: the allocator
    returns large blocks to the system, so every call's writes fault their pages in again
    (probe: data/results/probes/decode_step__cpu.csv). Grown when a call needs more."""

    def __init__(self) -> None:
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.layout: tuple = ()  # (layers, heads, head_dim, dtype, device) of the buffers held

    def take(self, n_layers: int, rows: int, heads: int, length: int, head_dim: int, like: torch.Tensor):
        """Per layer, keys and values buffers of at least (rows, heads, length, head_dim), the first `rows`
        rows of the workspace's (slots past `length` go unused)."""
        layout = (n_layers, heads, head_dim, like.dtype, like.device)
        held_rows, held_length = self.keys[0].shape[:3:2] if layout == self.layout else (0, 0)
        if held_rows < rows or held_length < length:
            rows_, length_ = max(rows, held_rows), max(length, held_length)
            self.keys, self.values = ([like.new_empty(rows_, heads, length_, head_dim) for _ in range(n_layers)]
                                      for _ in range(2))
            self.layout = layout
        return [b[:rows] for b in self.keys], [b[:rows] for b in self.values]


class _Continuations:
    """The `past_key_values` of a decoding step: every row's own generated tokens, in buffers
    preallocated for the whole run (no copy per step). Step t writes slot t."""

    def __init__(self, keys: list[torch.Tensor], values: list[torch.Tensor]):
        self.keys, self.values, self.t = keys, values, 0

    def update(self, key: torch.Tensor, value: torch.Tensor, layer_idx: int, *args, **kwargs):
        self.keys[layer_idx][:, :, self.t] = key[:, :, 0]
        self.values[layer_idx][:, :, self.t] = value[:, :, 0]
        return self.keys[layer_idx][:, :, :self.t + 1], self.values[layer_idx][:, :, :self.t + 1]

    def select(self, rows: torch.Tensor) -> "_Continuations":
        """The buffers of `rows` (a mask) only, moved to the front of the same buffers: only the slots
        written so far (0..t) are copied (a full copy would move every empty slot too)."""
        kept = int(rows.sum())

        def pick(buffers):
            out = []
            for b in buffers:
                b[:kept, :, :self.t + 1] = b[:, :, :self.t + 1][rows]  # gathered first, then written
                out.append(b[:kept])
            return out
        out = _Continuations(pick(self.keys), pick(self.values))
        out.t = self.t
        return out


def cascade_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, prefixes: _Prefixes,
                       layer: int, scaling: float) -> torch.Tensor:
    """Layer `layer`'s attention: query (B, H, 1, d) with B = G * n rows, group-major; key/value
    (B, H, t+1, d): each row's continuation so far. Returns (B, 1, H, d) as transformers' attention
    functions do."""
    k_p, v_p = prefixes.keys[layer], prefixes.values[layer]
    g, h, lp, d = k_p.shape
    n, b = prefixes.n, query.shape[0]
    q = query.reshape(g, n, h, d).transpose(1, 2)  # (G, H, n, d): a group's queries together
    s_prefix = torch.matmul(q, k_p.transpose(-1, -2)) * scaling + prefixes.bias  # (G, H, n, Lp)
    s_own = (torch.matmul(query, key.transpose(-1, -2)) * scaling).reshape(g, n, h, -1).transpose(1, 2)
    p = torch.softmax(torch.cat([s_prefix, s_own], dim=-1).float(), dim=-1).to(query.dtype)
    from_prefix = torch.matmul(p[..., :lp], v_p)  # (G, H, n, d)
    p_own = p[..., lp:].transpose(1, 2).reshape(b, h, 1, -1)
    from_own = torch.matmul(p_own, value).reshape(g, n, h, d).transpose(1, 2)
    return (from_prefix + from_own).transpose(1, 2).reshape(b, 1, h, d)


@dataclass
class _Tables:
    """What `decode_step` prepares once per call: per layer, q/k/v and gate/up projections as one
    weight (and bias) each, and the rotary cos/sin (positions, head_dim) of the model's own `rotary_emb`."""

    qkv: list[tuple[torch.Tensor, torch.Tensor | None]]
    gate_up: list[tuple[torch.Tensor, torch.Tensor | None]]
    cos: torch.Tensor
    sin: torch.Tensor

    @classmethod
    def of(cls, model, like: torch.Tensor, positions: int) -> "_Tables":
        def cat(*linears):
            biases = [x.bias for x in linears]
            bias = None if biases[0] is None else torch.cat(biases)
            return torch.cat([x.weight for x in linears]), bias
        layers = model.model.layers
        cos, sin = model.model.rotary_emb(like, torch.arange(positions, device=like.device)[None])
        return cls([cat(x.self_attn.q_proj, x.self_attn.k_proj, x.self_attn.v_proj) for x in layers],
                   [cat(x.mlp.gate_proj, x.mlp.up_proj) for x in layers], cos[0], sin[0])


def decode_step(model, tables: _Tables, ids: torch.Tensor, position: torch.Tensor, own: _Continuations,
                 prefixes: _Prefixes) -> torch.Tensor:
    """Logits (B, V) of one decoding step of B rows, ids and positions (B,): what LlamaForCausalLM's
    forward computes for one new token per row, op for op (LlamaDecoderLayer: pre-norm attention and
    MLP blocks with residuals)."""
    body = model.model
    h = body.embed_tokens(ids[:, None])  # (B, 1, D)
    b = h.shape[0]
    cos, sin = tables.cos[position][:, None], tables.sin[position][:, None]
    for i, layer in enumerate(body.layers):
        attn, mlp = layer.self_attn, layer.mlp
        qkv = F.linear(layer.input_layernorm(h), *tables.qkv[i]).view(b, 1, 3, -1, attn.head_dim)
        q, k, v = (x.transpose(1, 2) for x in qkv.unbind(2))  # (B, H, 1, d) each
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        k, v = own.update(k, v, attn.layer_idx)
        out = cascade_attention(q, k, v, prefixes, attn.layer_idx, attn.scaling)
        h = h + attn.o_proj(out.reshape(b, 1, -1))
        gate, up = F.linear(layer.post_attention_layernorm(h), *tables.gate_up[i]).chunk(2, dim=-1)
        h = h + mlp.down_proj(mlp.act_fn(gate) * up)
    return model.lm_head(body.norm(h[:, -1]))


def supports(model) -> bool:
    config = getattr(model, "config", None)
    return (config is not None and getattr(config, "model_type", None) == "llama"
            and not hasattr(model, "peft_config") and not getattr(model, "is_loaded_in_4bit", False)
            and getattr(config, "num_key_value_heads", None) == config.num_attention_heads)


def left_padded_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids of left-padded inputs: 0 at each row's first real token (padding gets 0)."""
    return (attention_mask.cumsum(-1) - 1).clamp(min=0)


def _pick(logits: torch.Tensor, temperature: float, keys: torch.Tensor | None, step: int) -> torch.Tensor:
    """Plain temperature sampling (what `generate` does with top_k/top_p off); 0 = greedy. With `keys`,
    each row draws from its own stream (`synthrl.streams`), else from torch's global generator."""
    if keys is not None:
        return synthrl.streams.pick(logits, temperature, keys, step)
    if temperature == 0:
        return logits.argmax(-1)
    return torch.multinomial(torch.softmax(logits.float() / temperature, dim=-1), 1)[:, 0]


@torch.no_grad()
def sample(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, n: int, temperature: float,
           max_new_tokens: int, eos_token_id: int, pad_token_id: int,
           compact_at: float = 0.5, workspace: Workspace | None = None,
           keys: torch.Tensor | None = None) -> torch.Tensor:
    """(G * n, max_new_tokens) token ids: n continuations of each of the G left-padded inputs,
    grouped by input; after a row's end-of-sequence token, `pad_token_id`. Groups whose rows have
    all ended leave the batch once they are `compact_at` of the groups still decoding. `workspace`:
    buffers kept across calls (a fresh one if None). `keys` (G * n,): each row's random stream
    (`synthrl.streams.row_keys`), which makes its draws independent of the batch and of compaction;
    None: torch's global generator."""
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
    own = _Continuations(*(workspace or Workspace()).take(len(layers), g * n, k0.shape[1], max_new_tokens,
                                                          k0.shape[3], k0))
    tables = _Tables.of(model, k0, int(start.max()) + max_new_tokens)
    logits = out.logits[:, -1].repeat_interleave(n, 0)
    tokens = torch.full((g * n, max_new_tokens), pad_token_id, dtype=torch.long, device=input_ids.device)
    rows = torch.arange(g * n, device=input_ids.device)  # original row of each decoding row
    groups = torch.arange(g, device=input_ids.device)
    ended = torch.zeros(g * n, dtype=torch.bool, device=input_ids.device)
    for t in range(max_new_tokens):
        nxt = _pick(logits, temperature, keys, t).masked_fill(ended, pad_token_id)
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
            keys = None if keys is None else keys[keep_rows]
        own.t = t
        logits = decode_step(model, tables, nxt, (start[groups] + t).repeat_interleave(n), own, prefixes)
    return tokens
