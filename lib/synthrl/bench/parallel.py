"""Probe: do the 2 cores train the cpu model faster as 2 data-parallel processes
of 1 thread each (torch DDP over gloo, each process half of every batch) than as 1 process of 2 threads
(torch's intra-op threads, the kit's way)? Measured on a bare torch loop (AdamW, clipping, as the bench's
plain loop) on the batches TRL's data loader gives, so that what is measured is the parallelism alone: if it
gained, TRL would run data-parallel under accelerate. One process of 1 thread is shown too.

The rule, fixed before the run: data parallelism is worth building only if it is at least
train_probe.MIN_SPEEDUP faster than 1 process of 2 threads, with the whole batch's loss (each process's
loss weighted by its label tokens) within the bench's bf16 tolerance of the 1-process loss at every step.
Timing skips the first WARMUP steps; each way keeps its faster of ROUNDS interleaved runs.

`python -m synthrl probe parallel [--preset cpu]` writes data/results/probes/train_parallel__PRESET.csv.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import torch

from synthrl.bench.suite import BF16_LOSS_TOLERANCE, training_inputs, trl_batches
from synthrl.bench.train_options import MIN_SPEEDUP
from synthrl.cache import cache_key
from synthrl.config import TrainConfig
from synthrl.models import build_model
from synthrl.presets import get_preset
from synthrl.probes.cli import probe_main
from synthrl.results import provenance, table

PROBE = "train_parallel"
STEPS = 60  # our choice: twice the bench's 30, so that the timed steps (after WARMUP) dominate
WARMUP = 5
ROUNDS = 2
PORT = "29517"  # gloo's rendezvous on this machine only


def _inputs(preset_name: str):
    """The preset's model config, a tokenizer, the loop's config and STEPS batches from TRL's loader."""
    preset, tokenizer, rows, cfg = training_inputs(preset_name, STEPS)
    batches = trl_batches(build_model(preset.model, tokenizer, seed=0), tokenizer, rows, cfg, preset.model)
    return preset.model, tokenizer, cfg, batches


def _loop(model, batches, cfg: TrainConfig, rank: int = 0, world: int = 1) -> tuple[float, list[float]]:
    """Tokens/s after WARMUP steps (every process's tokens) and the whole batch's loss at each step; with
    world > 1, this process trains rows rank, rank + world, ... of each batch."""
    import torch.distributed as dist

    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    losses, tokens, start = [], 0, time.perf_counter()
    for step, batch in enumerate(batches):
        if step == WARMUP:
            tokens, start = 0, time.perf_counter()
        part = {k: batch[k][rank::world] for k in ("input_ids", "attention_mask", "labels")}
        loss = model(**part).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        if world > 1:
            n = (part["labels"][:, 1:] != -100).sum().float()
            both = torch.stack([loss.detach() * n, n])
            dist.all_reduce(both)
            losses.append(float(both[0] / both[1]))
        else:
            losses.append(float(loss))
        tokens += int(batch["attention_mask"].sum())
    return tokens / (time.perf_counter() - start), losses


def _one_process(preset_name: str, threads: int) -> tuple[float, list[float]]:
    torch.set_num_threads(threads)
    model_cfg, tokenizer, cfg, batches = _inputs(preset_name)
    return _loop(build_model(model_cfg, tokenizer, seed=0), batches, cfg)


def _rank(rank: int, world: int, preset_name: str, results) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=PORT)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model_cfg, tokenizer, cfg, batches = _inputs(preset_name)
        model = torch.nn.parallel.DistributedDataParallel(build_model(model_cfg, tokenizer, seed=0))
        out = _loop(model, batches, cfg, rank, world)
        if rank == 0:
            results.put(out)
    finally:
        dist.destroy_process_group()


def _data_parallel(preset_name: str, world: int = 2) -> tuple[float, list[float]]:
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    ranks = [spawn.Process(target=_rank, args=(r, world, preset_name, results)) for r in range(world)]
    for p in ranks:
        p.start()
    out = results.get(timeout=600)
    for p in ranks:
        p.join()
    return out


# name -> torch threads of one process (each in a fresh process: threads are per process), or None: 2 ranks
WAYS = {"1 process x 2 threads": 2, "1 process x 1 thread": 1, "2 processes x 1 thread (DDP, gloo)": None}
BASELINE = "1 process x 2 threads"


def run(preset_name: str) -> pd.DataFrame:
    preset = get_preset(preset_name)
    start = time.perf_counter()
    speed: dict[str, float] = {}
    losses: dict[str, list[float]] = {}
    spawn = multiprocessing.get_context("spawn")
    for _ in range(ROUNDS):
        for name, threads in WAYS.items():
            if threads is None:
                tokens_per_s, losses[name] = _data_parallel(preset_name)
            else:
                with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                    tokens_per_s, losses[name] = pool.submit(_one_process, preset_name, threads).result()
            speed[name] = max(speed.get(name, 0.0), tokens_per_s)
    rows = []
    for name, tokens_per_s in speed.items():
        gap = float(np.abs(np.subtract(losses[name], losses[BASELINE])).max())
        speedup = tokens_per_s / speed[BASELINE]
        verdict = ("baseline" if name == BASELINE else "rejected: not faster" if speedup < MIN_SPEEDUP
                   else "worth building" if gap <= BF16_LOSS_TOLERANCE else "rejected: losses differ")
        rows += [{"study": PROBE, "preset": preset_name, "task": preset.task, "method": name,
                  "n_problems": preset.sft.batch_size * STEPS, "seed": 0, "metric": metric, "value": value,
                  "verdict": verdict}
                 for metric, value in (("tokens_per_s", tokens_per_s), ("speedup", speedup), ("max_loss_gap", gap))]
    key = cache_key(PROBE, WAYS, STEPS, WARMUP, preset_name)
    return table(rows, provenance(key, time.perf_counter() - start))


def main(argv: list[str] | None = None) -> int:
    return probe_main(__doc__, run, PROBE, _show, argv)


def _show(df: pd.DataFrame) -> pd.DataFrame:
    return df.pivot_table(index="method", columns="metric", values="value", sort=False)
