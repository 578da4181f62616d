"""The training recipe of the cpu studies: each lever's speed, and the rule that adopts a recipe.

A recipe is a set of `TrainConfig` fields on top of the preset's SFT and RFT configs, all of them
options of TRL's SFTTrainer or of the transformers model it trains (nothing of ours):
`length_grouped` (transformers' LengthGroupedSampler), `bf16_autocast`, `attention` (the kernel
while training) and `compiled` (torch.compile).

**Speed** (`python -m synthrl probe recipe speed`, data/results/probes/train_recipe__PRESET.csv):
each lever trains the preset's model on the bench's rows for one epoch, each run in a fresh process,
in the configuration the studies run (two cells at once, one thread each: tokens/s summed) and in the
bench's (one process on every core), with model GFLOP/s against the matmul peaks measured in the same
run. Levers that keep the batches report their largest loss gap to the default's.

**Adoption** (`python -m synthrl probe recipe adoption`, one file per cell under
data/results/probes/train_recipe_adoption/, merged into train_recipe_adoption__PRESET.csv). The rule,
fixed before its cells ran: the positive-scaling cells (SFT from the shared pi_base, pi_sft's 8
samples per problem) at |D_syn| = 1,024 and 4,096, seeds 0-2, both settings, under the old recipe
(TRL's defaults) and the new one. The new recipe is adopted if
1. at each size and setting, its mean SFT test error over the seeds is no worse than the old one's
   by more than MAX_ERROR_LOSS, and
2. every target of `synthrl.regime` that holds for the old recipe's cells holds for the new one's.
The candidates (`presets.RECIPE_CANDIDATES`) keep the preset's batch size and learning rate, so that
no rate needs re-fitting. They are judged in turn against the same old cells: the first (`NEW`) was
chosen from tokens/s alone, before any cell ran; the second (`KEPT`) was fixed after the first was
judged and before its own cells ran, and keeps the first's levers that leave the batches as they are
(bf16 and eager attention, not length grouping). Their verdicts are in the committed CSV.
"""
from __future__ import annotations

import argparse
import dataclasses
import re
import time
from pathlib import Path

import pandas as pd

from synthrl import regime
from synthrl.cache import cache_key
from synthrl.config import Preset, TrainConfig
from synthrl.datafiles import atomic_write_text
from synthrl.presets import RECIPE_CANDIDATES, get_preset
from synthrl.results import data_dir, load_probe, provenance, read_table, save_probe, table, to_csv

SPEED_PROBE = "train_recipe"
ADOPTION_PROBE = "train_recipe_adoption"
MAX_ERROR_LOSS = 0.01  # the adoption rule's tolerance on mean test error (absolute)
ADOPTION_SIZES = (1024, 4096)
# recipe name -> TrainConfig fields set on the preset's SFT and RFT configs
OLD = "TRL defaults"
NEW, KEPT = RECIPE_CANDIDATES  # the candidates, in the order they were tried
RECIPES = {OLD: {}, **RECIPE_CANDIDATES}


def recipe_preset(preset: Preset, recipe: str) -> Preset:
    """The preset with `recipe`'s fields on its SFT and RFT configs (the others at TrainConfig's defaults,
    which are TRL's, whatever the preset has adopted)."""
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.name in {*RECIPES[NEW], "compiled"}}
    fields = {**defaults, **RECIPES[recipe]}
    return dataclasses.replace(preset, sft=dataclasses.replace(preset.sft, **fields),
                               rft=dataclasses.replace(preset.rft, **fields))


# ---- speed: each lever alone and together, as the studies run and as the bench runs ---------------

SPEED_ROWS = 960  # our choice: 120 steps at batch 8, long enough that TRL's set-up is a few percent
SPEED_ROUNDS = 2  # each run keeps the fastest of 2 interleaved rounds (noise only slows a run down)
# lever -> (TrainConfig fields on the preset's SFT config, the lever whose batches it shares or None)
LEVERS = {
    OLD: ({}, None),
    "length-grouped": (dict(length_grouped=True), None),  # changes the batches
    "bf16 autocast": (dict(bf16_autocast=True), OLD),
    "eager attention": (dict(attention="eager"), OLD),
    "bf16, eager attention": (dict(bf16_autocast=True, attention="eager"), OLD),  # the batches kept
    NEW: (RECIPES[NEW], "length-grouped"),
    f"{NEW}, batch 16": ({**RECIPES[NEW], "batch_size": 16}, None),  # fewer steps: a rate to re-fit
    f"{NEW}, batch 32": ({**RECIPES[NEW], "batch_size": 32}, None),
    # cold: an empty compile cache, as a cell's first run pays it
    f"{NEW}, torch.compile": ({**RECIPES[NEW], "compiled": True}, NEW),
}
# configuration -> (processes at once, torch threads each)
LAYOUTS = {"two cells at once, one thread each": (2, 1), "one process, every core": (1, 0)}


def _speed_run(preset_name: str, lever: str, threads: int) -> tuple[float, list[float], int]:
    """Tokens/s, logged losses and parameters of one lever's run, in the (fresh) process it is called in."""
    import os
    import tempfile

    import torch

    from synthrl.bench.suite import training_inputs
    from synthrl.models import build_model, n_parameters
    from synthrl.train import sft

    if threads:
        torch.set_num_threads(threads)
    steps = SPEED_ROWS // get_preset(preset_name).sft.batch_size
    preset, tokenizer, rows, cfg = training_inputs(preset_name, steps=steps)
    cfg = dataclasses.replace(cfg, max_steps=-1, epochs=1.0, **LEVERS[lever][0])
    model = build_model(preset.model, tokenizer, seed=0)
    with tempfile.TemporaryDirectory(prefix="synthrl-inductor-") as cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
        result = sft(model, tokenizer, rows, cfg, preset.model)
    return result.tokens / result.wall_s, [loss for _, loss in result.losses], n_parameters(model)


def run_speed(preset_name: str) -> pd.DataFrame:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import numpy as np
    import torch

    from synthrl.hardware import matmul_gflops

    preset = get_preset(preset_name)
    start = time.perf_counter()
    peaks = {"fp32": matmul_gflops(torch.float32), "bf16": matmul_gflops(torch.bfloat16)}
    spawn = multiprocessing.get_context("spawn")
    speed: dict[tuple[str, str], float] = {}
    losses: dict[tuple[str, str], list[float]] = {}
    parameters = 0
    for _ in range(SPEED_ROUNDS):
        for layout, (processes, threads) in LAYOUTS.items():
            for lever in LEVERS:
                with ProcessPoolExecutor(processes, mp_context=spawn) as pool:
                    runs = [f.result() for f in [pool.submit(_speed_run, preset_name, lever, threads)
                                                 for _ in range(processes)]]
                total = sum(r[0] for r in runs)
                if total > speed.get((layout, lever), 0.0):
                    speed[layout, lever], losses[layout, lever] = total, runs[0][1]
                parameters = runs[0][2]
    rows = []
    for (layout, lever), tokens_per_s in speed.items():
        fields, reference = LEVERS[lever]
        flops = 6 * parameters * tokens_per_s / 1e9  # 6 N per token (forward + backward), as the bench counts
        gap = (float(np.abs(np.subtract(losses[layout, lever], losses[layout, reference])).max())
               if reference else float("nan"))
        measured = {"tokens_per_s": tokens_per_s, "speedup": tokens_per_s / speed[layout, OLD],
                    "model_gflop_per_s": flops, **{f"mfu_{p}": flops / peak for p, peak in peaks.items()},
                    "max_loss_gap": gap}
        rows += [{"study": SPEED_PROBE, "preset": preset_name, "task": preset.task, "method": lever,
                  "n_problems": SPEED_ROWS, "seed": 0, "metric": metric, "value": value, "layout": layout,
                  "options": repr(fields), "same_batches_as": reference or ""} for metric, value in measured.items()]
    rows += [{"study": SPEED_PROBE, "preset": preset_name, "method": "matmul 2048^3", "metric": "gflop_per_s",
              "value": peak, "layout": "one process, every core", "options": precision}
             for precision, peak in peaks.items()]
    key = cache_key(SPEED_PROBE, {k: v[0] for k, v in LEVERS.items()}, SPEED_ROWS, preset_name)
    return table(rows, provenance(key, time.perf_counter() - start))


def speed_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per lever and layout: tokens/s, speed-up over TRL's defaults in the same layout, model
    GFLOP/s as a fraction of each matmul peak, and the loss gap to the run whose batches it shares."""
    levers = df[df.method != "matmul 2048^3"]
    wide = levers.pivot_table(index=["layout", "method"], columns="metric", values="value", sort=False)
    return pd.DataFrame({
        "layout": [layout for layout, _ in wide.index], "lever": [lever for _, lever in wide.index],
        "tokens/s": [f"{v:,.0f}" for v in wide.tokens_per_s],
        "vs TRL defaults": [f"{v:.2f}×" for v in wide.speedup],
        "of bf16 peak": [f"{v:.1%}" for v in wide.mfu_bf16], "of fp32 peak": [f"{v:.1%}" for v in wide.mfu_fp32],
        "largest loss gap": ["" if pd.isna(v) else f"{v:.4f}" for v in wide.max_loss_gap]})


def committed_speed(preset: str = "cpu") -> pd.DataFrame:
    return load_probe(SPEED_PROBE, preset, "training-recipe speed probe")


# ---- adoption: positive-scaling cells under each recipe, one committed file per cell ---------------

def _slug(*parts) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", str(p)).strip("-") for p in parts)


def cell_dir(preset_name: str) -> Path:
    return data_dir() / "results" / "probes" / ADOPTION_PROBE / preset_name


def _adoption_preset(preset: Preset, recipe: str, sizes: tuple[int, ...]) -> Preset:
    from synthrl.cells import with_overrides

    return with_overrides(recipe_preset(preset, recipe), sizes=sizes, methods=("SFT",))


def adoption_cell(preset: Preset, recipe: str, setting, seed: int, size: int, base: str,
                  sizes: tuple[int, ...]) -> list[dict]:
    """One positive-scaling cell under `recipe`, written to its own file (skipped if that file exists)."""
    from synthrl.studies.positive_scaling import cell

    path = cell_dir(preset.name) / f"{_slug(recipe, setting.name, seed, size)}.csv"
    if path.exists():
        return read_table(path).to_dict("records")
    start = time.perf_counter()
    rows = [{"recipe": recipe, **r} for r in cell(_adoption_preset(preset, recipe, sizes), setting, seed, size, base, False)]
    wall = time.perf_counter() - start
    rows.append({"recipe": recipe, "setting": setting.name, "seed": seed, "n_problems": size, "method": "cell",
                 "metric": "cell_wall_s", "value": wall})
    df = table([{"study": ADOPTION_PROBE, "preset": preset.name, **r} for r in rows],
               provenance(cache_key(ADOPTION_PROBE, RECIPES[recipe]), wall))
    atomic_write_text(path, to_csv(df))
    return df.to_dict("records")


def adoption_jobs(preset: Preset, base: str, sizes: tuple[int, ...]) -> list[tuple]:
    """Every cell, the largest size first and the recipes interleaved (so that both meet the same machine)."""
    return [(preset, recipe, setting, seed, size, base, sizes) for size in sorted(sizes, reverse=True)
            for setting in preset.scaling.settings for seed in preset.scaling.seeds for recipe in RECIPES]


def run_adoption(preset_name: str, progress: bool = True, sizes: tuple[int, ...] = ADOPTION_SIZES) -> pd.DataFrame:
    """Compute the missing cells (two at once, as the studies run), then merge every cell file with
    pi_base's rows into the probe's table."""
    from synthrl.cells import base_rows, shared_base
    from synthrl.pool import map_cells

    preset = get_preset(preset_name)
    start = time.perf_counter()
    base = shared_base(preset)
    rows = map_cells(adoption_cell, adoption_jobs(preset, base, sizes), preset.scaling.workers, "recipe cells",
                     progress)
    base_table = table([{"study": ADOPTION_PROBE, "preset": preset.name, "recipe": "pi_base", **r}
                        for r in base_rows(_adoption_preset(preset, OLD, sizes), base)],
                       provenance(cache_key(ADOPTION_PROBE, "pi_base"), time.perf_counter() - start))
    return pd.concat([pd.DataFrame(rows), base_table], ignore_index=True)


def judge(df: pd.DataFrame) -> pd.DataFrame:
    """The adoption rule on the merged cells (its sizes: those in the table), for each candidate with
    cells in it: one row per check, and a last row per candidate with its verdict."""
    base = df[df.recipe == "pi_base"]
    sft = df[(df.method == "SFT") & (df.metric == "test_error")]
    means = sft.groupby(["setting", "n_problems", "recipe"])["value"].agg(["mean", "count"])
    sizes = sorted(int(n) for n in sft.n_problems.unique())
    out = []
    for candidate in [c for c in RECIPE_CANDIDATES if c in set(df.recipe)]:
        rows = []
        for setting in sorted(sft.setting.unique()):
            for size in sizes:
                old, new = (means.loc[(setting, size, r)] if (setting, size, r) in means.index else None
                            for r in (OLD, candidate))
                if old is None or new is None:
                    rows.append({"setting": setting, "check": f"SFT test error at {size}", "measured": "not measured",
                                 "holds": False})
                    continue
                gap = new["mean"] - old["mean"]
                rows.append({"setting": setting, "check": f"SFT test error at {size}: new - old <= {MAX_ERROR_LOSS}",
                             "measured": f"old {old['mean']:.3f} (n={int(old['count'])}), new {new['mean']:.3f} "
                                         f"(n={int(new['count'])}), {gap:+.3f}",
                             "holds": bool(gap <= MAX_ERROR_LOSS)})
        targets = {r: regime.check(pd.concat([base, df[df.recipe == r]])) for r in (OLD, candidate)}
        for (_, old), (_, new) in zip(targets[OLD].iterrows(), targets[candidate].iterrows()):
            rows.append({"setting": old.setting,
                         "check": f"regime: {old.target} (holds for the old recipe: {old.holds})",
                         "measured": f"old {old.measured}; new {new.measured}", "holds": bool(new.holds or not old.holds)})
        rows.append({"setting": "all", "check": f"adopt {candidate!r}",
                     "measured": f"{sum(r['holds'] for r in rows)}/{len(rows)} checks hold",
                     "holds": all(r["holds"] for r in rows)})
        out += [{"candidate": candidate, **r} for r in rows]
    return pd.DataFrame(out, columns=["candidate", "setting", "check", "measured", "holds"])


def adopted(df: pd.DataFrame) -> str | None:
    """The first candidate the rule adopts, or None."""
    verdicts = judge(df)
    final = verdicts[verdicts.check.str.startswith("adopt ")]
    return next((row.candidate for row in final.itertuples() if row.holds), None)


def wall_table(df: pd.DataFrame) -> pd.DataFrame:
    """Each recipe's time on 2 cores at each size, from the cells' own records: SFT's training and the
    whole cell (SFT, pi_sft's samples, the test evaluation), means over settings and seeds, two cells at
    once as the studies run them; speed-ups against the old recipe's."""
    cells = df[df.recipe.isin(list(RECIPES))]
    recipes = [r for r in RECIPES if r in set(cells.recipe)]
    walls = {metric: cells[cells.metric == metric].groupby(["n_problems", "recipe"])["value"].mean()
             for metric in ("train_wall_s", "cell_wall_s")}
    rows = []
    for size in sorted(int(n) for n in cells.n_problems.dropna().unique()):
        for recipe in recipes:
            row = {"|D_syn|": f"{size:,}", "recipe": recipe}
            for metric, label in (("train_wall_s", "SFT training"), ("cell_wall_s", "whole cell")):
                wall, old = walls[metric].get((size, recipe), float("nan")), walls[metric].get((size, OLD), float("nan"))
                row[f"{label} (s)"], row[f"{label}: speed-up"] = f"{wall:.0f}", f"{old / wall:.2f}×"
            rows.append(row)
    return pd.DataFrame(rows)


def committed_adoption(preset: str = "cpu") -> pd.DataFrame:
    return load_probe(ADOPTION_PROBE, preset, "recipe adoption probe")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=sorted(PARTS))
    parser.add_argument("--preset", default="cpu")
    args = parser.parse_args(argv)
    run, show, name = PARTS[args.part]
    df = run(args.preset)
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_colwidth", 120):
        print(show(df))
    print(f"written: {save_probe(df, name, args.preset)}")
    return 0


# part -> (run on a preset, what to print, the probe it is saved as)
PARTS = {"adoption": (run_adoption, judge, ADOPTION_PROBE), "speed": (run_speed, speed_table, SPEED_PROBE)}
