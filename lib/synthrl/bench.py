"""`make bench`: training and sampling throughput on this machine, and the speed-up of our batched
sampler over one-prompt-at-a-time `generate`, both measured in the same run on the same prompts."""
from __future__ import annotations

import time

import torch

from synthrl.models import build_model, build_tokenizer, n_parameters
from synthrl.pipeline import make_task
from synthrl.presets import TrainConfig, get_preset
from synthrl.results import device_name
from synthrl.sampling import HFSampler, SamplingSpec
from synthrl.train import completion_rows, sft

BENCH_TRAIN_STEPS = 30  # our choice: long enough to amortise TRL's set-up
BENCH_PROMPTS = 64
BENCH_ROUNDS = 3  # our choice: rollout timings are the best of 3 interleaved rounds
BENCH_ROLLOUTS = 16  # rollouts per prefix, fixed so that figures compare across presets and commits
# The ways of rolling out from step prefixes: what the bench prints, and HFSampler's options.
ROLLOUT_WAYS = {
    "naive": ("naive: each rollout re-encodes its prefix (generate), batches by length",
              dict(share_prefix=False, group_by_depth=False)),
    "repeated cache": ("generate from each prefix's key/value cache, repeated for its rollouts",
                       dict(cascade=False, group_by_depth=False)),
    "repeated cache, by depth": ("the same, batches by prefix depth", dict(cascade=False)),
    "cascade": ("cascade decoding: one copy of each prefix, ended groups leave the batch",
                dict(group_by_depth=False)),
    "ours": ("ours: cascade decoding, batches by prefix depth", dict()),
}


def _count_tokens(tokenizer, texts: list[str]) -> int:
    return sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in texts)  # + <eos>


def measure(preset_name: str) -> dict:
    preset = get_preset(preset_name)
    task = make_task(preset)
    problems = task.make_problems("train", max(BENCH_PROMPTS, preset.sft.batch_size * 4), seed=123)
    tokenizer = build_tokenizer(task.vocabulary())
    model = build_model(preset.model, tokenizer, seed=0)
    rows = completion_rows([task.prompt(p) for p in problems], [p.solution for p in problems])
    cfg = TrainConfig(epochs=1, max_steps=BENCH_TRAIN_STEPS, batch_size=preset.sft.batch_size, lr=preset.sft.lr)
    trained = sft(model, tokenizer, rows, cfg, preset.model)
    # Sampling: greedy, so both ways decode the same tokens and the comparison is like for like.
    prompts = [task.prompt(p) for p in problems[:BENCH_PROMPTS]]
    spec = SamplingSpec(n=1, temperature=0.0, max_new_tokens=preset.sampling.max_new_tokens)
    sampler = HFSampler(trained.model, tokenizer, batch_size=preset.sampling.batch_size)
    start = time.perf_counter()
    batched = sampler.sample(prompts, spec)
    t_batched = time.perf_counter() - start
    start = time.perf_counter()
    naive = [sampler.sample([p], spec)[0] for p in prompts]  # one prompt per generate call
    t_naive = time.perf_counter() - start
    generated = _count_tokens(tokenizer, [s[0] for s in batched])
    return {
        "preset": preset_name, "device": device_name(), "threads": torch.get_num_threads(),
        "parameters": n_parameters(trained.model),
        "train_tokens_per_s": trained.tokens / trained.wall_s,
        "sample_tokens_per_s": generated / t_batched,
        "naive_sample_tokens_per_s": generated / t_naive,
        "speedup": t_naive / t_batched,
        "same_outputs": batched == naive,
        "prompts": len(prompts),
    }


def measure_rollouts(preset_name: str, n_traces: int = 24) -> dict:
    """Rollouts from every step prefix of pi_sft's negatives, our shared-prefix sampler against
    the naive one (every rollout re-encodes its prompt and prefix), same traces, same seed.
    Uses the cached pi_sft of the preset (trained first if missing, as `make demo` does)."""
    import numpy as np

    from synthrl import pipeline
    from synthrl.credit import estimate_q
    from synthrl.models import load_checkpoint
    from synthrl.pairs import negative_traces

    preset = get_preset(preset_name)
    world = make_task(preset)
    d_syn = pipeline.d_syn(preset)
    sft = pipeline.pi_sft(preset, pipeline.pi_base(preset), d_syn)
    problems, traces = negative_traces(world, d_syn, pipeline.samples(preset, sft, d_syn), n_traces, seed=1)
    model, tokenizer = load_checkpoint(sft)
    n = BENCH_ROLLOUTS
    timings: dict[str, float] = {}
    credits, repeat = {}, True
    # Rounds interleave the ways and each keeps its best time (a shared machine's noise only slows
    # a run down); every round must repeat the first's rollouts exactly (same seed).
    for _ in range(BENCH_ROUNDS):
        for way, (_, options) in ROLLOUT_WAYS.items():
            sampler = HFSampler(model, tokenizer, batch_size=preset.sampling.batch_size, **options)
            start = time.perf_counter()
            found = estimate_q(sampler, world, problems, traces, n, seed=0,
                               max_new_tokens=preset.sampling.max_new_tokens)
            timings[way] = min(timings.get(way, float("inf")), time.perf_counter() - start)
            if way in credits:
                repeat &= [c.outcomes for c in found] == [c.outcomes for c in credits[way]]
            credits[way] = found
    mean_q = {way: float(np.concatenate([c.q[:-1] for c in found]).mean()) for way, found in credits.items()}
    return {"traces": len(traces), "rollouts": sum(sum(c.rollouts) for c in credits["ours"]), "n": n,
            "timings": timings, "speedup": timings["naive"] / timings["ours"], "mean_q": mean_q,
            "same_seed_repeats": repeat}


def run_bench(preset_name: str) -> int:
    r = measure(preset_name)
    print(f"machine: {r['device']}, {r['threads']} torch threads")
    print(f"preset {r['preset']}: model {r['parameters'] / 1e6:.2f}M parameters")
    print(f"training (TRL SFTTrainer, {BENCH_TRAIN_STEPS} steps): {r['train_tokens_per_s']:,.0f} tokens/s")
    print(f"sampling, batched ({r['prompts']} prompts, greedy): {r['sample_tokens_per_s']:,.0f} tokens/s")
    print(f"sampling, one prompt at a time:        {r['naive_sample_tokens_per_s']:,.0f} tokens/s")
    print(f"batched sampler speed-up vs one-at-a-time generate: {r['speedup']:.2f}x "
          f"(outputs identical: {r['same_outputs']})")
    r = measure_rollouts(preset_name)
    print(f"rollouts: {r['traces']} negative traces of pi_sft, {r['n']} per step prefix, {r['rollouts']} in all")
    for way, (name, _) in ROLLOUT_WAYS.items():
        print(f"  {name}: {r['timings'][way]:.1f} s (mean Q {r['mean_q'][way]:.3f})")
    print(f"  (best of {BENCH_ROUNDS} interleaved rounds each; the ways sample the same distribution, mean Q over "
          f"prefixes from other random draws) every round repeats its rollouts with the same seed: "
          f"{r['same_seed_repeats']}")
    print(f"rollout speed-up vs naive: {r['speedup']:.2f}x")
    return 0
