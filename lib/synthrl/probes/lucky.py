"""Probe: how the world's answer space M changes the spurious positives RFT would train on.

For each M in ANSWER_SPACES, written here before the probe ran: the preset with every world's amounts in
[0, M) (`rft_spurious.with_overrides(max_value=M)`, so pi_base is pretrained anew: its vocabulary holds
the amounts), the first setting, seed 0 and the study's problems; pi_sft's samples (`SpuriousConfig.
samples` per problem), their lucky rate (right answers among samples with a wrong step) beside chance,
1/M, and D+'s wrong-step fraction at the smallest and the largest count. No RFT: the question is what D+
holds. At the preset's own M the cells are the study's, from its cache. The paper's claim rests on
lucky answers; a smaller M should make them commoner, and a larger one rarer.

`python -m synthrl probe lucky [--preset cpu]` writes data/results/probes/lucky_m__PRESET.csv.
"""
from __future__ import annotations

import time

import pandas as pd

from synthrl import cells, pipeline, spurious
from synthrl.cache import cache_key
from synthrl.presets import get_preset
from synthrl.probes.cli import probe_main
from synthrl.results import load_probe, provenance, table
from synthrl.studies import rft_spurious

ANSWER_SPACES = (10, 20, 50)  # the cpu preset's M is 20


def measure(preset_name: str, m: int) -> list[dict]:
    preset = get_preset(preset_name)
    setting = preset.scaling.settings[0]
    p = rft_spurious.with_overrides(preset, settings=[setting.name], seeds=(0,),
                                    max_value=None if m == preset.world.max_value else m)
    setting = p.scaling.settings[0]
    sp, problems, _, _, sampled = rft_spurious.pi_sft_samples(p, setting, 0, cells.shared_base(p))
    by_uid = {q.uid: q for q in problems}
    world = pipeline.make_task(sp)
    common = {"study": "lucky_m", "preset": preset_name, "task": sp.task, "setting": setting.name, "seed": 0,
              "n_problems": len(problems), "answer_space": m}
    rows = rft_spurious.pi_sft_rows(common, sp, world, by_uid, sampled)  # the study's measures, at this M
    for count in (min(p.spurious.counts), max(p.spurious.counts)):
        labels = spurious.step_labels(world, by_uid, pipeline.d_plus(sampled, count))
        rows += rft_spurious.fraction_rows(common, "D+", labels, sp, positives_per_problem=count)
    return rows


def run(preset_name: str) -> pd.DataFrame:
    start = time.perf_counter()
    rows = [r for m in ANSWER_SPACES for r in measure(preset_name, m)]
    return table(rows, provenance(cache_key("lucky_m", ANSWER_SPACES, preset_name), time.perf_counter() - start))


def ledger(df: pd.DataFrame) -> pd.DataFrame:
    """The README's table of the committed probe: per M, chance, the lucky rate, pi_sft's yield and D+'s
    wrong-step fraction at the smallest and the largest count."""
    first, last = int(df.positives_per_problem.min()), int(df.positives_per_problem.max())
    rows = []
    for m, at in df.groupby("answer_space"):
        v = {(r.metric, r.positives_per_problem if r.method == "D+" else None): r.value for r in at.itertuples()}
        rows.append({"M": int(m), "chance 1/M": f"{v['chance_rate', None]:.3f}",
                     "lucky rate": f"{v['lucky_rate', None]:.3f}",
                     "π_sft sample accuracy": f"{v['sample_accuracy', None]:.3f}",
                     "coverage": f"{v['coverage', None]:.3f}",
                     f"D+ with a wrong step, {first} per problem": f"{v['wrong_fraction', first]:.3f}",
                     f"{last} per problem": f"{v['wrong_fraction', last]:.3f}"})
    return pd.DataFrame(rows)


def committed(preset: str = "cpu") -> pd.DataFrame:
    return load_probe("lucky_m", preset, "answer-space probe")


def main(argv: list[str] | None = None) -> int:
    return probe_main(__doc__, run, "lucky_m", _show, argv)


def _show(df: pd.DataFrame) -> str:
    return df[["answer_space", "method", "metric", "positives_per_problem", "value"]].round(3).to_string(index=False)
