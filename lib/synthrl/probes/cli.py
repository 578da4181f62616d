"""One command line for every probe: `python -m synthrl probe NAME [--preset cpu] [args]` runs the probe,
prints what it measured and writes data/results/probes/PROBE__PRESET.csv. `PROBES` names each probe's
module; each has `main(argv) -> int`, and the one-preset probes build theirs with `probe_main`."""
from __future__ import annotations

import argparse
from typing import Callable

import pandas as pd

from synthrl.results import save_probe

# probe name -> its module (`main(argv)`): the probes beside the studies, then the speed probes
PROBES = {"answer-checks": "synthrl.probes.answer_checks", "greedy": "synthrl.probes.greedy",
          "lucky": "synthrl.probes.lucky", "negative": "synthrl.probes.negative",
          "regime": "synthrl.probes.regime", "reproduce": "synthrl.probes.reproduce",
          "star": "synthrl.probes.star",
          "decode": "synthrl.bench.decode", "step": "synthrl.bench.step",
          "train-options": "synthrl.bench.train_options", "parallel": "synthrl.bench.parallel",
          "recipe": "synthrl.bench.recipe"}


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


def run_probe(name: str, argv: list[str]) -> int:
    """`python -m synthrl probe NAME ARGS`: the named probe's own command line on ARGS."""
    import importlib
    import sys

    if name not in PROBES:
        raise SystemExit(f"unknown probe {name!r}; choose one of {', '.join(PROBES)}")
    sys.argv[0] = f"synthrl probe {name}"  # the name argparse shows in the probe's usage and errors
    return importlib.import_module(PROBES[name]).main(argv)
