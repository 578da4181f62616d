"""Probe: whether the committed cells of a study are what the code at HEAD computes.

`python -m synthrl probe reproduce STUDY --sizes N [N ...] [--ablation lr] [--preset cpu]` copies the kit's
data/ folder without its results and figures (the shipped pi_base models, the fixtures) into a temporary
folder, runs `python -m synthrl run STUDY --sizes ...` on it with an empty run cache, and compares every cell
that run computed with the committed cell of the same name. The rule, written before it ran: a cell
reproduces when its config hash is the committed one, it has as many rows, and no field but the provenance
differs, numbers by at most TOLERANCE (the same machine, thread counts and seeds: training on a CPU is
expected to repeat bit for bit). Added after a run found them apart: a cell's own timings (its rows whose
metric ends in "wall_s", such as train_wall_s) are provenance too, counted on their own and never
deciding. A committed cell computed at an older commit that reproduces is then a result of HEAD's code.
Writes data/results/probes/reproduce_STUDY__PRESET.csv.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from synthrl.cache import cache_key
from synthrl.results import FILE_ROWS, cell_path, data_dir, provenance, read_table, save_probe, table

TOLERANCE = 1e-9
# fields that say when, where and how long, not what: never compared
PROVENANCE = ("synthrl_version", "git_commit", "wall_s", "device", "created_at", FILE_ROWS)
TIMING = "wall_s"  # the ending of a metric that is a measured time (train_wall_s): counted, never decides


def compare(committed: pd.DataFrame, recomputed: pd.DataFrame) -> dict:
    """How a recomputed cell differs from the committed one: whether the config hashes match, the row
    counts, the rows with some field apart (numbers by more than TOLERANCE, NaN equal to NaN), the largest
    difference of a number and the fields that differ; timing rows apart are counted on their own."""
    same_hash = set(committed["config_hash"]) == set(recomputed["config_hash"])
    out = {"same_config_hash": same_hash, "rows_committed": len(committed), "rows_recomputed": len(recomputed),
           "timing_rows_differing": 0}
    if len(committed) != len(recomputed):
        return {**out, "rows_differing": max(len(committed), len(recomputed)), "max_abs_diff": np.nan,
                "fields_differing": "row count", "reproduces": False}
    fields = [c for c in committed.columns if c not in PROVENANCE and c != "config_hash"]
    if missing := sorted(set(fields) ^ (set(recomputed.columns) - set(PROVENANCE) - {"config_hash"})):
        return {**out, "rows_differing": len(committed), "max_abs_diff": np.nan,
                "fields_differing": "columns " + ", ".join(missing), "reproduces": False}
    a, b = committed[fields].reset_index(drop=True), recomputed[fields].reset_index(drop=True)
    timing = (a["metric"].astype(str).str.endswith(TIMING) if "metric" in a else pd.Series(False, a.index)).to_numpy()
    apart, worst, named = np.zeros(len(a), dtype=bool), 0.0, []
    for c in fields:
        if pd.api.types.is_numeric_dtype(a[c]) and pd.api.types.is_numeric_dtype(b[c]):
            x, y = a[c].to_numpy(float), b[c].to_numpy(float)
            both_nan = np.isnan(x) & np.isnan(y)
            diff = np.where(both_nan, 0.0, np.abs(x - y))
            diff = np.where(np.isnan(diff), np.inf, diff)  # NaN on one side only
            worst = max(worst, float(diff[~timing].max(initial=0.0)))
            off = diff > TOLERANCE
        else:
            off = (a[c].fillna("").astype(str) != b[c].fillna("").astype(str)).to_numpy()
        if (off & ~timing).any():
            named.append(c)
        apart |= off
    results_apart = apart & ~timing
    return {**out, "rows_differing": int(results_apart.sum()), "timing_rows_differing": int((apart & timing).sum()),
            "max_abs_diff": worst, "fields_differing": ", ".join(named),
            "reproduces": same_hash and not results_apart.any()}


def _without_results(folder: str, names: list[str]) -> list[str]:
    """copytree's ignore: data/'s own results and figures (the run under test writes its own)."""
    return [n for n in names if n in ("results", "figures")] if Path(folder).resolve() == data_dir().resolve() else []


def run(study: str, sizes: list[int], preset: str, ablation: str | None) -> pd.DataFrame:
    """Recompute the cells of `study` at `sizes` in a fresh data folder and run cache; one row per cell and
    measure of `compare`."""
    saved = f"{study}_{ablation}" if ablation else study
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="synthrl-reproduce-") as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(data_dir(), data, ignore=_without_results)
        env = {**os.environ, "SYNTHRL_DATA": str(data), "SYNTHRL_HOME": str(Path(tmp) / "runs")}
        cmd = [sys.executable, "-m", "synthrl", "run", study, "--preset", preset, "--sizes", *map(str, sizes)]
        subprocess.run(cmd + (["--ablation", ablation] if ablation else []), env=env, check=True)
        computed = sorted((data / "results" / "cells" / f"{saved}__{preset}").glob("*.csv"))
        if not computed:
            raise SystemExit(f"the run computed no cell of {saved} at sizes {sizes}")
        rows = []
        for path in computed:
            mine = read_table(path)
            theirs_path = cell_path(saved, preset, path.stem)
            if not theirs_path.exists():
                raise SystemExit(f"no committed cell {theirs_path} to compare the recomputed one with")
            theirs = read_table(theirs_path)
            common = {"study": "reproduce", "preset": preset, "method": saved, "cell": path.stem,
                      "n_problems": int(mine["n_problems"].max()), "seed": int(mine["seed"].dropna().iloc[0]),
                      "committed_commit": ", ".join(sorted(set(theirs["git_commit"].astype(str))))}
            got = compare(theirs, mine)
            common["fields_differing"] = got.pop("fields_differing")
            rows += [{**common, "metric": k, "value": float(v)} for k, v in got.items()]
    return table(rows, provenance(cache_key("reproduce", saved, preset, sorted(sizes)), time.perf_counter() - start))


def committed(preset: str = "cpu") -> pd.DataFrame:
    """Every committed reproduce probe of the preset (one file per study reproduced), in one table."""
    paths = sorted((data_dir() / "results" / "probes").glob(f"reproduce_*__{preset}.csv"))
    if not paths:
        raise FileNotFoundError(f"no committed reproduce probe for the {preset} preset")
    return pd.concat([read_table(p) for p in paths], ignore_index=True)


def ledger(df: pd.DataFrame) -> pd.DataFrame:
    """One row per recomputed cell: the commit it was committed from, the one that recomputed it, its rows,
    whether the config hash matched, the rows and fields apart, the largest difference and the verdict."""
    out = []
    for (study, cell), g in df.groupby(["method", "cell"], sort=True):
        v = g.set_index("metric")["value"]
        out.append({"results": study, "cell": cell, "committed at": g.committed_commit.iloc[0],
                    "recomputed at": g.git_commit.iloc[0], "rows": int(v["rows_committed"]),
                    "same config hash": "yes" if v["same_config_hash"] else "no",
                    "rows apart": int(v["rows_differing"]), "fields apart": g.fields_differing.fillna("").iloc[0],
                    "timing rows apart": int(v["timing_rows_differing"]),
                    "largest difference": f"{v['max_abs_diff']:.3g}",
                    "reproduces": "yes" if v["reproduces"] else "no"})
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study")
    parser.add_argument("--sizes", type=int, nargs="+", required=True, metavar="N")
    parser.add_argument("--ablation", default=None, choices=("lr", "one_positive"))
    parser.add_argument("--preset", default="cpu")
    args = parser.parse_args(argv)
    df = run(args.study, args.sizes, args.preset, args.ablation)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(ledger(df).to_string(index=False))
    print(f"written: {save_probe(df, f'reproduce_{df.method.iloc[0]}', args.preset)}")  # the results name run used
    return 0
