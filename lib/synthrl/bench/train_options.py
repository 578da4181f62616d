"""Probes of TRL's own options against the time TRL's training step costs beyond the model:
each option trains the preset's model for the bench's steps on the bench's rows, in rounds that run
every option once (each keeps its fastest run), each run in a fresh process (in one process, a run after
torch.compile's or the length-grouped sampler's moved its losses), and is judged by one rule fixed
before the run. An
option that keeps the batches is adopted only if it is at least MIN_SPEEDUP faster than the default and
its losses stay within the bench's bf16 tolerance of the default's in the same round. An option that
changes the batches (length grouping) changes the curve: at MIN_SPEEDUP or more it is left for a study
to judge, never adopted here. torch.compile runs last in each round (it leaves global state behind) with
an empty compile cache, so that it pays its compilation as a new user's run would.

`python -m synthrl probe train-options [--preset cpu]` writes data/results/probes/train_overhead__PRESET.csv.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from synthrl import train
from synthrl.bench.suite import BENCH_TRAIN_STEPS, BF16_LOSS_TOLERANCE, training_inputs
from synthrl.cache import cache_key
from synthrl.models import build_model
from synthrl.presets import get_preset
from synthrl.probes.cli import probe_main
from synthrl.results import load_probe, provenance, table

PROBE = "train_overhead"
MIN_SPEEDUP = 1.05  # our rule: below 5%, run-to-run noise on this machine (about +-10%) decides
ROUNDS = 2
# name -> TRL SFTConfig fields set on top of the kit's config (the library's own options, nothing of ours)
OPTIONS = {
    "default": {},
    # Sequences flattened into one row, attention kept per sequence by transformers' packed-sequence
    # masks from position_ids (exact on SDPA; TRL documents it for FlashAttention only)
    "padding-free": dict(padding_free=True, max_length=None),
    "group by length": dict(train_sampling_strategy="group_by_length"),  # transformers' LengthGroupedSampler
    "torch.compile": dict(torch_compile=True),
}
CHANGES_BATCHES = {"group by length"}


def _with(options: dict):
    """The kit's sft_config with TRL options replaced (dataclasses.replace re-runs TRL's checks)."""
    base = train.sft_config

    def config(*args, **kwargs):
        cfg = base(*args, **kwargs)
        return dataclasses.replace(cfg, **options) if options else cfg
    return config


def _one_run(preset_name: str, name: str) -> tuple[float, list[float]]:
    """Tokens/s and logged losses of one run with option `name` (in the process it is called in)."""
    preset, tokenizer, rows, cfg = training_inputs(preset_name)
    train.sft_config = _with(OPTIONS[name])
    with tempfile.TemporaryDirectory(prefix="synthrl-inductor-") as cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache  # an empty compile cache
        result = train.sft(build_model(preset.model, tokenizer, seed=0), tokenizer, rows, cfg, preset.model)
    return result.tokens / result.wall_s, [loss for _, loss in result.losses]


def run(preset_name: str) -> pd.DataFrame:
    preset = get_preset(preset_name)
    start = time.perf_counter()
    speed: dict[str, float] = {}
    gap: dict[str, float] = {}
    spawn = multiprocessing.get_context("spawn")
    for _ in range(ROUNDS):
        losses = {}
        for name in OPTIONS:
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                tokens_per_s, losses[name] = pool.submit(_one_run, preset_name, name).result()
            speed[name] = max(speed.get(name, 0.0), tokens_per_s)
            gap[name] = max(gap.get(name, 0.0), float(np.abs(np.subtract(losses[name], losses["default"])).max()))
    out = []
    for name, tokens_per_s in speed.items():
        speedup = tokens_per_s / speed["default"]
        if name == "default":
            verdict = "baseline"
        elif speedup < MIN_SPEEDUP:
            verdict = "rejected: not faster"
        elif name in CHANGES_BATCHES:
            verdict = "changes the batches: for a study to judge"
        else:
            verdict = "adopted" if gap[name] <= BF16_LOSS_TOLERANCE else "rejected: losses differ"
        out += [{"study": "train_overhead", "preset": preset_name, "task": preset.task, "method": name,
                 "n_problems": preset.sft.batch_size * BENCH_TRAIN_STEPS, "seed": 0, "metric": metric, "value": value,
                 "options": repr(OPTIONS[name]), "verdict": verdict}
                for metric, value in (("tokens_per_s", tokens_per_s), ("speedup", speedup), ("max_loss_gap", gap[name]))]
    key = cache_key("train_overhead", OPTIONS, BENCH_TRAIN_STEPS, preset_name)
    return table(out, provenance(key, time.perf_counter() - start))


def ledger(df: pd.DataFrame) -> pd.DataFrame:
    """The README's table of a committed probe: each option, its tokens/s, speed-up and loss gap, verdict."""
    wide = df.pivot_table(index="method", columns="metric", values="value", sort=False)
    verdicts = df.drop_duplicates("method").set_index("method")
    return pd.DataFrame({
        "TRL option": [f"{m} (`{verdicts.options[m]}`)" if m != "default" else "the kit's config" for m in wide.index],
        "tokens/s": [f"{v:,.0f}" for v in wide.tokens_per_s],
        "vs default": [f"{v:.2f}×" for v in wide.speedup],
        "largest loss gap": [f"{v:.4f}" for v in wide.max_loss_gap],
        "verdict": list(verdicts.verdict.loc[wide.index])})


def committed(preset: str = "cpu") -> pd.DataFrame:
    return load_probe(PROBE, preset, "training-overhead probe")


def main(argv: list[str] | None = None) -> int:
    from synthrl.results import markdown

    return probe_main(__doc__, run, PROBE, lambda df: "\n".join(markdown(ledger(df))), argv)
