"""`python -m synthrl demo | run STUDY | figures | readme | pi-base | bench | html` (the Makefile's targets)."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from synthrl import quiet_libraries
from synthrl.presets import PRESETS

# results name -> (study module, its run's overrides). Every study has run / claims / figures.
RESULTS = {"quickstart": ("quickstart", {}), "positive_scaling": ("positive_scaling", {}),
           "positive_scaling_lr": ("positive_scaling", {"ablation": "lr"}),
           "positive_scaling_one_positive": ("positive_scaling", {"ablation": "one_positive"}),
           "q_values": ("q_values", {}), "negative_scaling": ("negative_scaling", {}),
           "star_graph": ("star_graph", {}), "rft_spurious": ("rft_spurious", {})}
STUDIES = tuple(dict.fromkeys(module for module, _ in RESULTS.values()))
CELL_STUDIES = ("positive_scaling", "negative_scaling", "rft_spurious")  # independent cells: `--ray` runs them as Ray tasks


def study_module(name: str):
    """The study module behind a results name (e.g. positive_scaling_lr -> positive_scaling)."""
    import importlib

    return importlib.import_module(f"synthrl.studies.{RESULTS[name][0]}")


def results_name(study: str, ablation: str | None) -> str:
    return study if ablation is None else f"{study}_{ablation}"


def cmd_run(study: str, preset: str, ablation: str | None = None, ray: str | None = None) -> int:
    import pandas as pd

    from synthrl import figures
    from synthrl.results import save_results

    name = results_name(study, ablation)
    if name not in RESULTS:
        print(f"unknown study or ablation: {name}; choose one of {sorted(RESULTS)}", file=sys.stderr)
        return 2
    if ray is not None and study not in CELL_STUDIES:
        print(f"--ray: {study} has no independent cells; studies that scale out: {', '.join(CELL_STUDIES)}",
              file=sys.stderr)
        return 2
    start = time.perf_counter()
    module = study_module(name)
    results = module.run(preset, **RESULTS[name][1], **({"ray": ray} if ray is not None else {}))
    path = save_results(results, name, preset)
    print(f"results: {path}")
    for fig_path in figures.save_all(module.figures(results), preset):
        print(f"figure: {fig_path}")
    if study == "quickstart":
        print(module.summary(results).to_string(float_format=lambda v: f"{v:.3f}", na_rep="not measured"))
    with pd.option_context("display.max_colwidth", None, "display.width", 250):
        print(module.claims(results).to_string(index=False))
    print(f"{name} on preset {preset!r} took {time.perf_counter() - start:.0f} s")
    return 0


def readme_tables(preset: str = "cpu") -> dict:
    """The README's generated blocks: marker -> a function building its table from the committed
    results (`synthrl.readme`). Every study's claims, the regime check, the regime probes and `make bench`."""
    from synthrl.regime import check
    from synthrl.results import load_results, study_wall_times
    from synthrl.studies import regime_probe

    def claims(name):
        return lambda: study_module(name).claims(load_results(name, preset))

    def regime():
        table = check(load_results("positive_scaling", preset))
        return table.assign(holds=table["holds"].map({True: "yes", False: "no"}))

    def probes():
        found = regime_probe.committed()
        if not found:
            raise FileNotFoundError("no committed regime probes")
        return regime_probe.ledger(found)

    def means(name):
        return lambda: study_module(name).means_table(load_results(name, preset))

    tables = {name.replace("_", "-") + "-claims": claims(name) for name in RESULTS}
    scaling = {name.replace("_", "-") + "-means": means(name) for name in RESULTS
               if name.startswith("positive_scaling") or name == "negative_scaling"}
    def answer_checks():
        from synthrl.studies import answer_checks as study

        return study.means_table(load_results(study.STUDY, preset))

    def bench():
        from synthrl import bench as study

        return study.table(load_results(study.STUDY, preset))

    def train_overhead():
        from synthrl.studies import train_probe

        return train_probe.ledger(train_probe.committed(preset))

    def recipe(what):
        from synthrl.studies import recipe_probe

        if what == "speed":
            return recipe_probe.speed_table(recipe_probe.committed_speed(preset))
        adoption = recipe_probe.committed_adoption(preset)
        return recipe_probe.judge(adoption) if what == "adoption" else recipe_probe.wall_table(adoption)

    def lucky():
        from synthrl.studies import lucky_probe

        return lucky_probe.ledger(lucky_probe.committed(preset))

    def negative_knobs():
        from synthrl.studies import negative_probe

        return negative_probe.ledger(negative_probe.committed(preset), preset)

    def star(name):
        from synthrl.studies import star_probe

        return lambda: star_probe.ledger(star_probe.load(name, preset))

    def star_across(what):  # issue 17's verdict across the star-graph study and every probe
        from synthrl.studies import star_probe

        return getattr(star_probe, what)(preset)

    def gpu_quickstart(what):  # the one gpu-preset run, on a lent GPU (README, "Verified on a GPU")
        from synthrl.studies import quickstart

        results = load_results("quickstart", "gpu")
        return quickstart.claims(results) if what == "claims" else quickstart.ledger(results)

    return {**tables, **scaling, "regime-results": regime, "regime-probes": probes, "answer-checks": answer_checks,
            "bench-results": bench, "train-overhead-probe": train_overhead, "lucky-probe": lucky,
            "train-recipe-speed": lambda: recipe("speed"), "train-recipe-adoption": lambda: recipe("adoption"),
            "train-recipe-walls": lambda: recipe("walls"),
            "study-wall-times": lambda: study_wall_times(preset, list(RESULTS)),
            "negative-knobs-probe": negative_knobs, "quickstart-gpu-results": lambda: gpu_quickstart("results"),
            "quickstart-gpu-claims": lambda: gpu_quickstart("claims"),
            **{f"{name.replace('_', '-')}-probe": star(name)
               for name in ("star_collapse", "star_early", "star_pairs", "star_long", "star_fresh", "star_pits")},
            "star-evidence": lambda: star_across("evidence"), "star-verdict": lambda: star_across("claims")}


def cmd_readme(path: str = "README.md") -> int:
    from pathlib import Path

    from synthrl import readme
    from synthrl.datafiles import atomic_write_text

    text, skipped = readme.update(Path(path).read_text(), readme_tables())
    atomic_write_text(Path(path), text)
    for marker in skipped:
        print(f"skip {marker}: its results are not committed")
    print(f"{path}: generated tables rewritten")
    return 0


def cmd_figures(preset: str) -> int:
    from synthrl import figures
    from synthrl.results import load_results

    for name in RESULTS:
        try:
            results = load_results(name, preset)
        except FileNotFoundError as e:
            print(f"skip {name}: {e}")
            continue
        for path in figures.save_all(study_module(name).figures(results), preset):
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
    run.add_argument("--ablation", default=None, choices=("lr", "one_positive"),
                     help="positive_scaling: the learning-rate arms, or RFT-1 (one positive per problem)")
    run.add_argument("--ray", default=None, metavar="ADDRESS",
                     help="run the study's cells as Ray tasks on a cluster: 'auto' (started by `ray start "
                          "--head`) or its address; the run cache (SYNTHRL_HOME) must be shared by every node")
    figs = sub.add_parser("figures", help="regenerate every figure from committed results")
    figs.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    sub.add_parser("readme", help="rewrite the README's generated tables from the committed cpu results")
    base = sub.add_parser("pi-base", help="pretrain the preset's pi_base and ship it under data/models")
    base.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    bench = sub.add_parser("bench", help="training, sampling and rollout throughput against same-run baselines "
                                         "and the machine's matmul limit; writes data/results/bench__PRESET.csv")
    bench.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    bench.add_argument("--no-ct2", action="store_true", help="skip CTranslate2 even where it is installed")
    html = sub.add_parser("html", help="each study notebook run on the committed cpu results, written as HTML "
                                       "with its figures under docs/notebooks (needs the notebook extras)")
    html.add_argument("names", nargs="*", help="notebooks to render (default: every study notebook)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    quiet_libraries()
    if args.command == "demo":
        return cmd_run("quickstart", args.preset)
    if args.command == "run":
        return cmd_run(args.study, args.preset, args.ablation, args.ray)
    if args.command == "figures":
        return cmd_figures(args.preset)
    if args.command == "readme":
        return cmd_readme()
    if args.command == "html":
        from synthrl.render import STUDY_NOTEBOOKS, render_all

        for path in render_all("cpu", tuple(args.names) or STUDY_NOTEBOOKS):
            print(f"html: {path}")
        return 0
    if args.command == "pi-base":
        from synthrl.pipeline import pi_base, pi_base_key, train_log
        from synthrl.presets import get_preset
        from synthrl.shipped import ship_pi_base

        preset = get_preset(args.preset)
        folder = pi_base(preset)
        print(f"pi_base: {ship_pi_base(preset, Path(folder), pi_base_key(preset), train_log(folder))}")
        return 0
    from synthrl.bench import run_bench

    return run_bench(args.preset, with_ct2=not args.no_ct2)
