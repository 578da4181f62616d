"""Probes of TRL's own options against the time TRL's training step costs beyond the model (issue 16):
each option trains the preset's model for the bench's steps on the bench's rows, interleaved with the
default in rounds (each keeps its fastest), and is judged by one rule fixed before the run: adopted
only if it is at least MIN_SPEEDUP faster than the default and its losses stay within the bench's bf16
tolerance of the default's (an option that changes the batches, like length grouping, changes the
curve and must then be judged by a study, not here).

`python -m synthrl.studies.train_probe [--preset cpu]` writes data/results/probes/train_overhead__PRESET.csv.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import pandas as pd

from synthrl import train
from synthrl.bench import BENCH_TRAIN_STEPS, BF16_LOSS_TOLERANCE
from synthrl.cache import cache_key
from synthrl.models import build_model, build_tokenizer
from synthrl.pipeline import make_task
from synthrl.presets import TrainConfig, get_preset
from synthrl.datafiles import atomic_write_text
from synthrl.results import data_dir, provenance, table

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


def _with(options: dict):
    """The kit's sft_config with TRL options replaced (dataclasses.replace re-runs TRL's checks)."""
    base = train.sft_config

    def config(*args, **kwargs):
        cfg = base(*args, **kwargs)
        return dataclasses.replace(cfg, **options) if options else cfg
    return config


def run(preset_name: str) -> pd.DataFrame:
    preset = get_preset(preset_name)
    task = make_task(preset)
    problems = task.make_problems("train", preset.sft.batch_size * BENCH_TRAIN_STEPS, seed=123)
    tokenizer = build_tokenizer(task.vocabulary())
    rows = train.completion_rows([task.prompt(p) for p in problems], [p.solution for p in problems])
    cfg = TrainConfig(epochs=1, max_steps=BENCH_TRAIN_STEPS, batch_size=preset.sft.batch_size, lr=preset.sft.lr)
    start = time.perf_counter()
    best: dict[str, tuple[float, list[float]]] = {}
    original = train.sft_config
    try:
        for _ in range(ROUNDS):
            for name, options in OPTIONS.items():
                train.sft_config = _with(options)
                result = train.sft(build_model(preset.model, tokenizer, seed=0), tokenizer, rows, cfg, preset.model)
                speed = result.tokens / result.wall_s
                if name not in best or speed > best[name][0]:
                    best[name] = (speed, [loss for _, loss in result.losses])
    finally:
        train.sft_config = original
    default_speed, default_losses = best["default"]
    out = []
    for name, (speed, losses) in best.items():
        gap = float(np.abs(np.subtract(losses, default_losses)).max())
        speedup = speed / default_speed
        adopted = name != "default" and speedup >= MIN_SPEEDUP and gap <= BF16_LOSS_TOLERANCE
        out += [{"study": "train_overhead", "preset": preset_name, "task": preset.task, "method": name,
                 "n_problems": len(rows), "seed": 0, "metric": metric, "value": value,
                 "options": repr(OPTIONS[name]), "verdict": "baseline" if name == "default" else
                 ("adopted" if adopted else "rejected")}
                for metric, value in (("tokens_per_s", speed), ("speedup", speedup), ("max_loss_gap", gap))]
    key = cache_key("train_overhead", OPTIONS, BENCH_TRAIN_STEPS, preset_name)
    return table(out, provenance(key, time.perf_counter() - start))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu")
    args = parser.parse_args(argv)
    df = run(args.preset)
    path = data_dir() / "results" / "probes" / f"train_overhead__{args.preset}.csv"
    atomic_write_text(path, df.to_csv(index=False))
    print(df.pivot_table(index=["method", "verdict"], columns="metric", values="value"))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
