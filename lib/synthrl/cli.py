"""`python -m synthrl demo | run STUDY | figures | bench` (the Makefile's targets)."""
from __future__ import annotations

import argparse
import logging
import sys
import time

from synthrl import quiet_libraries
from synthrl.presets import PRESETS

STUDIES = ("quickstart", "positive_scaling", "positive_scaling_lr", "q_values", "star_graph")


def _study(name: str):
    import importlib

    return importlib.import_module(f"synthrl.studies.{name}")


def cmd_run(study: str, preset: str) -> int:
    from synthrl import figures
    from synthrl.results import save_results

    start = time.perf_counter()
    results = _study(study).run(preset)
    path = save_results(results, study, preset)
    print(f"results: {path}")
    for fig_path in figures.save_study_figures(study, results, preset):
        print(f"figure: {fig_path}")
    if study == "quickstart":
        print(_study(study).summary(results).to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"{study} on preset {preset!r} took {time.perf_counter() - start:.0f} s")
    return 0


def cmd_figures(preset: str) -> int:
    from synthrl import figures
    from synthrl.results import load_results

    for study in STUDIES:
        try:
            results = load_results(study, preset)
        except FileNotFoundError as e:
            print(f"skip {study}: {e}")
            continue
        for path in figures.save_study_figures(study, results, preset):
            print(f"figure: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="synthrl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="the quickstart pipeline: D_syn, SFT, D+, RFT, test errors")
    demo.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    run = sub.add_parser("run", help="run one study and save its results and figures")
    run.add_argument("study", choices=STUDIES)
    run.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    figs = sub.add_parser("figures", help="regenerate every figure from committed results")
    figs.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    bench = sub.add_parser("bench", help="training and sampling throughput, batched vs one-at-a-time")
    bench.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    quiet_libraries()
    if args.command == "demo":
        return cmd_run("quickstart", args.preset)
    if args.command == "run":
        return cmd_run(args.study, args.preset)
    if args.command == "figures":
        return cmd_figures(args.preset)
    from synthrl.bench import run_bench

    return run_bench(args.preset)
