"""Probe: greedy decoding, the kit's test error, through the
cascade decoder instead of transformers' `generate`. The cascade drops each row from the batch as it
ends, where `generate` decodes a batch until its longest row ends; both pick the arg-max token, but
they sum attention in another order, so a near tie could pick another token.

Every checkpoint the positive-scaling study evaluates (pi_base, and each cell's pi_sft and RFT, from the
run cache; trained first where absent) decodes the setting's test problems both ways, interleaved.

Rule, written before the run: the cascade becomes the greedy decoder only if it gives the same output
as `generate` on every test problem of every checkpoint (then every cached evaluation stays what a new
run computes) and takes less time in total. `python -m synthrl probe greedy [--preset cpu]`
writes data/results/probes/greedy_cascade__PRESET.csv.
"""
from __future__ import annotations

import time

import pandas as pd

from synthrl import cells, pipeline
from synthrl.cache import cache_key, checkpoint_id
from synthrl.config import to_dict
from synthrl.evaluate import greedy_outputs
from synthrl.models import load_checkpoint
from synthrl.presets import get_preset
from synthrl.probes.cli import probe_main
from synthrl.results import provenance, table
from synthrl.sampling import HFSampler

WAYS = {"generate": False, "cascade": True}  # HFSampler's `cascade`


def checkpoints(preset) -> list[tuple[str, str]]:
    """(setting, checkpoint) for pi_base and every positive-scaling cell's pi_sft and RFT."""
    base = cells.shared_base(preset)
    out = [(s.name, base) for s in preset.scaling.settings]
    for setting in preset.scaling.settings:
        sp = cells.setting_preset(preset, setting)
        for size in preset.scaling.sizes:
            for seed in preset.scaling.seeds:
                problems = pipeline.d_syn(sp, n=size, seed=seed)
                rows = pipeline.sft_rows(sp, problems)
                sft = cells.finetune(sp, "pi_sft", base, rows, seed, len(rows))
                plus = pipeline.d_plus(pipeline.samples(sp, sft, problems, seed), sp.sampling.positives_per_problem)
                out += [(setting.name, sft), (setting.name, cells.rft_checkpoint(sp, base, plus, seed, len(rows)))]
    return out


def run(preset_name: str) -> pd.DataFrame:
    start = time.perf_counter()
    preset = get_preset(preset_name)
    settings = {s.name: s for s in preset.scaling.settings}
    rows = []
    for name, ckpt in checkpoints(preset):
        sp = cells.setting_preset(preset, settings[name])
        task, test = pipeline.make_task(sp), pipeline.test_problems(sp)
        model, tokenizer = load_checkpoint(ckpt)
        outs, seconds = {}, {}
        for way, cascade in WAYS.items():
            sampler = HFSampler(model, tokenizer, batch_size=sp.sampling.batch_size, cascade=cascade)
            t = time.perf_counter()
            outs[way] = greedy_outputs(sampler, task, test, sp.sampling.max_new_tokens)
            seconds[way] = time.perf_counter() - t
        common = {"study": "greedy_cascade", "preset": preset_name, "task": sp.task, "setting": name,
                  "checkpoint": checkpoint_id(ckpt), "n_test": len(test)}
        same = sum(a == b for a, b in zip(outs["generate"], outs["cascade"]))
        rows += [{**common, "method": way, "metric": "seconds", "value": seconds[way]} for way in WAYS]
        rows.append({**common, "method": "cascade", "metric": "same_outputs", "value": same})
    return table(rows, provenance(cache_key(to_dict(preset), "greedy_cascade"), time.perf_counter() - start))


def verdict(df: pd.DataFrame) -> dict:
    """The rule of the docstring, on the probe's rows."""
    same = df[df.metric == "same_outputs"]
    seconds = df[df.metric == "seconds"].groupby("method")["value"].sum()
    identical = bool((same["value"] == same["n_test"]).all())
    return {"checkpoints": len(same), "outputs_compared": int(same["n_test"].sum()),
            "outputs_differing": int((same["n_test"] - same["value"]).sum()),
            "speedup": float(seconds["generate"] / seconds["cascade"]),
            "adopted": bool(identical and seconds["cascade"] < seconds["generate"])}


def main(argv: list[str] | None = None) -> int:
    return probe_main(__doc__, run, "greedy_cascade", verdict, argv)
