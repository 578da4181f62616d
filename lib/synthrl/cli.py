"""`python -m synthrl demo | run STUDY | figures | pi-base | bench | probe NAME` (the Makefile's targets), and
`pairs` / `train` (per-step data and training for a researcher's own model)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

from synthrl import quiet_libraries
from synthrl.config import PairsConfig, PreferenceConfig
from synthrl.preference import TRAIN_METHODS
from synthrl.presets import PRESETS
from synthrl.probes.cli import PROBES, run_probe

# results name -> (study module, its run's overrides). Every study has run / claims / figures.
RESULTS = {"quickstart": ("quickstart", {}), "positive_scaling": ("positive_scaling", {}),
           "positive_scaling_lr": ("positive_scaling", {"ablation": "lr"}),
           "positive_scaling_one_positive": ("positive_scaling", {"ablation": "one_positive"}),
           "q_values": ("q_values", {}), "negative_scaling": ("negative_scaling", {}),
           "star_graph": ("star_graph", {}), "rft_spurious": ("rft_spurious", {})}
STUDIES = tuple(dict.fromkeys(module for module, _ in RESULTS.values()))
# independent cells: `--ray` runs them as Ray tasks
CELL_STUDIES = ("positive_scaling", "negative_scaling", "rft_spurious")
TRAIN_FLAGS = ("beta", "lr", "batch_size", "epochs", "max_steps", "seed")  # `train`'s PreferenceConfig flags
# cells committed as they finish, computed in parts by `--sizes`
SIZED_STUDIES = ("positive_scaling", "negative_scaling")


def study_module(name: str):
    """The study module behind a results name (e.g. positive_scaling_lr -> positive_scaling)."""
    import importlib

    return importlib.import_module(f"synthrl.studies.{RESULTS[name][0]}")


def results_name(study: str, ablation: str | None) -> str:
    return study if ablation is None else f"{study}_{ablation}"


def cmd_run(study: str, preset: str, ablation: str | None = None, ray: str | None = None,
            sizes: list[int] | None = None) -> int:
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
    if sizes and study not in SIZED_STUDIES:
        print(f"--sizes: {study} is not computed in parts; studies that are: {', '.join(SIZED_STUDIES)}",
              file=sys.stderr)
        return 2
    start = time.perf_counter()
    module = study_module(name)
    import inspect

    bar = {"progress": True} if "progress" in inspect.signature(module.run).parameters else {}  # cells done, time left
    results = module.run(preset, **bar, **RESULTS[name][1], **({"ray": ray} if ray is not None else {}),
                         **({"only_sizes": tuple(sizes)} if sizes else {}))
    if missing := results.attrs.get("missing_cells"):
        shown = ", ".join(missing[:4]) + (", ..." if len(missing) > 4 else "")
        print(f"{name}: {len(missing)} cells not computed yet ({shown}); the cells computed are under "
              "data/results/cells/, and the study's CSV is written once none is missing")
        return 0
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
    run.add_argument("--sizes", type=int, nargs="+", default=None, metavar="N",
                     help="compute only the missing cells of these |D_syn| sizes (a study computed in parts); "
                          "the study's CSV is written once every cell is committed")
    run.add_argument("--ray", default=None, metavar="ADDRESS",
                     help="run the study's cells as Ray tasks on a cluster: 'auto' (started by `ray start "
                          "--head`) or its address; the run cache (SYNTHRL_HOME) must be shared by every node")
    figs = sub.add_parser("figures", help="regenerate every figure from committed results")
    figs.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    base = sub.add_parser("pi-base", help="pretrain the preset's pi_base and ship it under data/models")
    base.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    bench = sub.add_parser("bench", help="training, sampling and rollout throughput against same-run baselines "
                                         "and the machine's matmul limit; writes data/results/bench__PRESET.csv")
    bench.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    bench.add_argument("--no-ct2", action="store_true", help="skip CTranslate2 even where it is installed")
    probe = sub.add_parser("probe", help="run one probe and write its CSV under data/results/probes",
                           add_help=False)
    probe.add_argument("name", help="the probe: " + ", ".join(PROBES))
    probe.add_argument("args", nargs=argparse.REMAINDER, help="the probe's own arguments (NAME --help lists them)")
    pairs = sub.add_parser("pairs", help="per-step preference pairs, step labels and advantages for any Hugging Face "
                                         "model on your problems (docs/own-model.md)")
    pairs.add_argument("--model", required=True, help="a hub id or a local model folder")
    pairs.add_argument("--adapter", default=None, help="a peft adapter of the model to sample instead")
    pairs.add_argument("--data", required=True, help="a JSONL file of problems in GSM8K's or MATH's format")
    pairs.add_argument("--out", required=True, help="the folder the datasets are written to")
    pairs.add_argument("--task", default="gsm8k", choices=("gsm8k", "math"), help="the format and answer checker")
    pairs.add_argument("--backend", default="auto", choices=("auto", "hf", "vllm"),
                       help="vLLM where it imports and a GPU is present (auto), else transformers")
    for field in dataclasses.fields(PairsConfig):
        pairs.add_argument("--" + field.name.replace("_", "-"), type=type(field.default), default=field.default,
                           help=f"(default {field.default})")
    train = sub.add_parser("train", help="train a model on the files `synthrl pairs` wrote")
    train.add_argument("method", choices=sorted(TRAIN_METHODS))
    train.add_argument("--model", required=True)
    train.add_argument("--adapter", default=None, help="a peft adapter of the model, trained further")
    train.add_argument("--pairs", required=True, help="the folder `synthrl pairs` wrote")
    train.add_argument("--out", required=True, help="where the checkpoint (an adapter under LoRA) is saved")
    train.add_argument("--lora-r", type=int, default=0, help="LoRA rank of new adapters (0: full finetuning)")
    train.add_argument("--qlora", action="store_true", help="the base in 4 bits (QLoRA; needs --lora-r and a GPU)")
    train.add_argument("--awr-beta", type=float, default=0.1, help="AWR's temperature (default 0.1)")
    for field in TRAIN_FLAGS:
        default = getattr(PreferenceConfig(), field)
        train.add_argument("--" + field.replace("_", "-"), type=type(default), default=default,
                           help=f"(default {default})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    quiet_libraries()
    if args.command == "demo":
        return cmd_run("quickstart", args.preset)
    if args.command == "run":
        return cmd_run(args.study, args.preset, args.ablation, args.ray, args.sizes)
    if args.command == "figures":
        return cmd_figures(args.preset)
    if args.command == "probe":
        return run_probe(args.name, args.args)
    if args.command == "pairs":
        from synthrl.pairs import build

        cfg = PairsConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(PairsConfig)})
        summary = build(args.model, args.data, args.out, args.adapter, args.task, cfg, args.backend)
        print(json.dumps(summary, indent=1))
        return 0
    if args.command == "train":
        from synthrl.preference import train

        cfg = PreferenceConfig(**{f: getattr(args, f) for f in TRAIN_FLAGS})
        log = train(args.method, args.model, args.pairs, args.out, args.adapter, args.lora_r, args.qlora, cfg,
                    args.awr_beta)
        print(f"{args.method}: {len(log['losses'])} steps in {log['wall_s']:.0f} s, saved to {args.out}")
        return 0
    if args.command == "pi-base":
        from synthrl.pipeline import pi_base, pi_base_key, train_log
        from synthrl.presets import get_preset
        from synthrl.shipped import ship_pi_base

        preset = get_preset(args.preset)
        folder = pi_base(preset)
        print(f"pi_base: {ship_pi_base(preset, Path(folder), pi_base_key(preset), train_log(folder))}")
        return 0
    from synthrl.bench.suite import run_bench

    return run_bench(args.preset, with_ct2=not args.no_ct2)
