"""Probe: how the cascade decoder's per-step overhead amortises with the number of
rows decoded together. The bench's rollouts (pi_sft's negatives, 16 rollouts per step prefix) by our
sampler at several batch sizes, the fastest of ROUNDS interleaved rounds each, with the mean Q each
gives. Its committed run predates per-sample random streams (`synthrl.streams`), so its sizes drew other
samples of the same distribution; now every size draws the same rollouts, and the batch is a free knob.
`python -m synthrl probe decode [--preset cpu]` writes
data/results/probes/decode_batch__PRESET.csv.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from synthrl.bench.suite import BENCH_ROLLOUTS, Timed, rollout_inputs
from synthrl.cache import cache_key
from synthrl.credit import estimate_q
from synthrl.models import load_checkpoint
from synthrl.probes.cli import probe_main
from synthrl.results import provenance, table
from synthrl.sampling import HFSampler

BATCH_SIZES = (64, 128, 256, 512, 1024)  # sequences decoded together; the cpu preset's is 128
ROUNDS = 2


def run(preset_name: str) -> pd.DataFrame:
    start = time.perf_counter()
    preset, world, checkpoint, problems, traces = rollout_inputs(preset_name)
    model, tokenizer = load_checkpoint(checkpoint)
    seconds: dict[int, float] = {}
    rows = []
    for _ in range(ROUNDS):
        for batch in BATCH_SIZES:
            sampler = Timed(HFSampler(model, tokenizer, batch_size=batch))
            credits = estimate_q(sampler, world, problems, traces, BENCH_ROLLOUTS, seed=0,
                                 max_new_tokens=preset.sampling.max_new_tokens)
            if batch not in seconds or sampler.seconds < seconds[batch]:
                seconds[batch] = sampler.seconds
                tokens = sum(c.sampled_tokens for c in credits)
                mean_q = float(np.concatenate([c.q[:-1] for c in credits]).mean())
                rows = [r for r in rows if r["batch_size"] != batch] + [
                    {"study": "decode_batch", "preset": preset_name, "task": preset.task, "method": "ours",
                     "n_problems": len(traces), "seed": 0, "metric": metric, "value": value, "batch_size": batch}
                    for metric, value in (("seconds", sampler.seconds), ("tokens_per_s", tokens / sampler.seconds),
                                          ("mean_q", mean_q))]
    base = seconds[preset.sampling.batch_size] if preset.sampling.batch_size in seconds else seconds[BATCH_SIZES[0]]
    rows += [{"study": "decode_batch", "preset": preset_name, "task": preset.task, "method": "ours",
              "n_problems": len(traces), "seed": 0, "metric": "speedup", "value": base / t, "batch_size": batch}
             for batch, t in seconds.items()]
    key = cache_key("decode_batch", BATCH_SIZES, BENCH_ROLLOUTS, preset_name)
    return table(rows, provenance(key, time.perf_counter() - start))


def main(argv: list[str] | None = None) -> int:
    return probe_main(__doc__, run, "decode_batch", _show, argv)


def _show(df: pd.DataFrame) -> pd.DataFrame:
    return df.pivot_table(index="batch_size", columns="metric", values="value")
