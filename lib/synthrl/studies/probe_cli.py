"""The command line every one-preset probe shares: `python -m synthrl.studies.NAME [--preset cpu]` runs
the probe, prints what it measured and writes data/results/probes/PROBE__PRESET.csv."""
from __future__ import annotations

import argparse
from typing import Callable

import pandas as pd

from synthrl.results import save_probe


def probe_main(doc: str, run: Callable[[str], pd.DataFrame], probe: str,
               show: Callable[[pd.DataFrame], object], argv: list[str] | None = None) -> int:
    """Parse --preset, run the probe on it, print `show(results)` and save the results as `probe`."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--preset", default="cpu")
    preset = parser.parse_args(argv).preset
    df = run(preset)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(show(df))
    print(f"written: {save_probe(df, probe, preset)}")
    return 0
