"""Probe: two changes to the cascade decoder against what they replaced, each way on the
bench's rollouts (pi_sft's negatives, 16 rollouts per step prefix) at each size of `bench.BENCH_BATCHES`,
the fastest of ROUNDS interleaved rounds each, same seeds:
- "model forward, buffers per call": the replaced step, `LlamaForCausalLM.forward` with the cascade
  attention registered through transformers' `AttentionInterface`, and the continuations' buffers
  allocated by every `sample` call (as before);
- "our step, buffers per call": `cascade.decode_step` (the model's modules called directly, rotary
  tables once per call, q/k/v and gate/up fused);
- "ours": our step, and the buffers kept by the sampler across calls (`cascade.Workspace`).
(In all three, rows leaving the batch move to the front of their buffers, as the kit now does.)

Rule, fixed before the run: each change is kept if every size gives the same rollout outcomes as the way
before it (the same draws) and no size is slower than it. `python -m synthrl probe step
[--preset cpu]` writes data/results/probes/decode_step__PRESET.csv.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

import pandas as pd
from transformers import AttentionInterface

from synthrl import cascade as synthrl_cascade
from synthrl.bench.suite import BENCH_BATCHES, BENCH_ROLLOUTS, Timed, rollout_inputs
from synthrl.cache import cache_key
from synthrl.credit import estimate_q
from synthrl.models import load_checkpoint
from synthrl.probes.cli import probe_main
from synthrl.results import provenance, table
from synthrl.sampling import HFSampler

ROUNDS = 2
ATTENTION = "synthrl_cascade_probe"


def _attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, cascade=None, **kwargs):
    return synthrl_cascade.cascade_attention(query, key, value, cascade, module.layer_idx, scaling), None


AttentionInterface.register(ATTENTION, _attention)


def forward_step(model, tables, ids, position, own, prefixes):
    """The replaced step: the model's own forward with the cascade attention (the prefill keeps the model's
    attention; switching the config's attribute costs ~17 us a step, against milliseconds)."""
    config = model.config
    previous, config._attn_implementation = config._attn_implementation, ATTENTION
    try:
        return model(input_ids=ids[:, None], position_ids=position[:, None], past_key_values=own, use_cache=True,
                     cascade=prefixes, logits_to_keep=1).logits[:, -1]
    finally:
        config._attn_implementation = previous


WAYS = ("model forward, buffers per call", "our step, buffers per call", "ours")


@contextmanager
def _way(sampler: HFSampler, way: str):
    ours = synthrl_cascade.decode_step
    if way == WAYS[0]:
        synthrl_cascade.decode_step = forward_step
    if way != "ours":
        sampler._workspace = None
    try:
        yield
    finally:
        synthrl_cascade.decode_step = ours


def run(preset_name: str) -> pd.DataFrame:
    start = time.perf_counter()
    preset, world, checkpoint, problems, traces = rollout_inputs(preset_name)
    model, tokenizer = load_checkpoint(checkpoint)
    seconds: dict[tuple[str, int], float] = {}
    outcomes: dict[tuple[str, int], list] = {}
    tokens: dict[tuple[str, int], int] = {}
    for _ in range(ROUNDS):
        for batch in BENCH_BATCHES:
            for which in WAYS:
                inner = HFSampler(model, tokenizer, batch_size=batch)
                sampler = Timed(inner)
                with _way(inner, which):
                    credits = estimate_q(sampler, world, problems, traces, BENCH_ROLLOUTS, seed=0,
                                         max_new_tokens=preset.sampling.max_new_tokens)
                key = which, batch
                seconds[key] = min(seconds.get(key, float("inf")), sampler.seconds)
                outcomes[key] = [c.outcomes for c in credits]
                tokens[key] = sum(c.sampled_tokens for c in credits)
    rows = []
    for (which, batch), t in seconds.items():
        rows += [{"method": which, "metric": "seconds", "value": t, "batch_size": batch, "baseline": ""},
                 {"method": which, "metric": "tokens_per_s", "value": tokens[which, batch] / t, "batch_size": batch,
                  "baseline": ""}]
        for before in WAYS[:WAYS.index(which)]:
            rows += [{"method": which, "metric": "speedup", "value": seconds[before, batch] / t,
                      "batch_size": batch, "baseline": before},
                     {"method": which, "metric": "same_outcomes", "batch_size": batch, "baseline": before,
                      "value": float(outcomes[which, batch] == outcomes[before, batch])}]
    rows = [{"study": "decode_step", "preset": preset_name, "task": preset.task, "n_problems": len(traces),
             "seed": 0, **r} for r in rows]
    key = cache_key("decode_step", BENCH_BATCHES, BENCH_ROLLOUTS, preset_name)
    return table(rows, provenance(key, time.perf_counter() - start))


def main(argv: list[str] | None = None) -> int:
    return probe_main(__doc__, run, "decode_step", _show, argv)


def _show(df: pd.DataFrame) -> pd.DataFrame:
    return df.pivot_table(index=["method", "baseline"], columns=["metric", "batch_size"], values="value").round(3)
