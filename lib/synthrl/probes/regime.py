"""Probes of the paper's regime: the positive-scaling study on a few cells (sizes 64,
256 and 1,024, one seed, SFT only), judged by `synthrl.regime.check` and nothing else.

Each probe is a named change of the cpu preset, written down here before it was run, so that every
probe, kept or rejected, is reproducible from the code: `python -m synthrl probe regime
NAME` writes `data/results/probes/regime_NAME__cpu.csv`. No probe looks at a claim's verdict.
"""
from __future__ import annotations

import dataclasses
import time

import pandas as pd

from synthrl.config import CreditConfig, Preset, ScalingConfig, Setting
from synthrl.presets import get_preset
from synthrl.regime import check
from synthrl.studies import positive_scaling
from synthrl.tasks.arith import ArithConfig

STUDY = "regime_probe"
SIZES = (64, 256, 1024)  # the scaling range's ends and middle

# The cpu preset every probe starts from (its math-like world of 3-4 steps, pi_base on 6,000 plain documents,
# SFT at 3 epochs and at least 100 steps): spelled out, so that each probe stays what it was when the preset moves.
BEFORE = Preset(name="cpu", credit=CreditConfig(n_rollouts=64), scaling=ScalingConfig(settings=(
    Setting("gsm8k-like"), Setting("math-like", world=ArithConfig(min_steps=3, max_steps=4, n_distractors=1,
                                                                  shuffle_facts=True))),
    methods=("SFT", "RFT", "RFT-1")), rft_steps="epochs")
# The easier math-like world of the later probes (2-3 steps, facts out of order), spelled out here so
# that the probes stay fixed if the preset's math world moves again
MATH_2_3 = ArithConfig(min_steps=2, max_steps=3, n_distractors=1, shuffle_facts=True)


def _ft(preset: Preset, lr: float) -> Preset:
    """SFT and RFT at another learning rate."""
    return dataclasses.replace(preset, sft=dataclasses.replace(preset.sft, lr=lr),
                               rft=dataclasses.replace(preset.rft, lr=lr))


def _scaling(preset: Preset, **fields) -> Preset:
    return dataclasses.replace(preset, scaling=dataclasses.replace(preset.scaling, **fields))


def _teacher_both(preset: Preset) -> Preset:
    """pi_base on 30,000 documents in the teacher's styles, half from each setting's world."""
    return dataclasses.replace(preset, n_pretrain_docs=30000, pretrain_style="teacher",
                               pretrain_worlds=tuple(s.world or preset.world for s in preset.scaling.settings))


# name -> (what it changes, the preset). Appended in the order they were run; a probe's preset is never
# edited after its run.
PROBES: dict[str, tuple[str, callable]] = {
    "as-is": ("the starting preset (BEFORE) unchanged", lambda p: p),
    "ft-lr-3e-4": ("SFT at lr 3e-4 (a third of 1e-3), at least 50 steps",
                   lambda p: _scaling(_ft(p, 3e-4), min_steps=50)),
    "base-5x": ("pi_base on 5x the corpus (30,000 documents, 2 epochs), SFT at lr 3e-4, at least 50 steps",
                lambda p: _scaling(_ft(dataclasses.replace(p, n_pretrain_docs=30000), 3e-4), min_steps=50)),
    "base-5x-teacher-both": ("pi_base on 30,000 documents whose worked solutions are in the teacher's styles (not "
                             "one plain style), drawn half from each setting's world; SFT as the preset",
                             _teacher_both),
    "base-5x-teacher-both-3ep": ("as base-5x-teacher-both, SFT for exactly 3 epochs (no 100-step floor: a "
                                 "capable base needs no minimum)", lambda p: _scaling(_teacher_both(p), min_steps=1)),
    "base-5x-teacher-both-lr1e-4": ("as base-5x-teacher-both, SFT at lr 1e-4 (a tenth of pi_base's peak rate: "
                                    "restarting at the pretraining rate undoes pretraining)",
                                    lambda p: _ft(_teacher_both(p), 1e-4)),
    "base-5x-teacher-both-lr3e-4": ("as base-5x-teacher-both, SFT at lr 3e-4", lambda p: _ft(_teacher_both(p), 3e-4)),
    "base-easy-teacher-lr3e-4": ("pi_base on 30,000 documents in the teacher's styles from *easier* worlds (1-2 "
                                 "steps, no distractor; facts in order and shuffled), so that D_syn still "
                                 "teaches the target difficulty; SFT at lr 3e-4",
                                 lambda p: _ft(dataclasses.replace(
                                     p, n_pretrain_docs=30000, pretrain_style="teacher", pretrain_worlds=(
                                         ArithConfig(min_steps=1, max_steps=2, n_distractors=0),
                                         ArithConfig(min_steps=1, max_steps=2, n_distractors=0,
                                                     shuffle_facts=True))), 3e-4)),
    "base-5x-teacher-both-solved-0.2-lr3e-4": ("as base-5x-teacher-both, but only a fifth of pi_base's stories "
                                               "come with a worked solution (3,000 of 15,000), so that D_syn has "
                                               "more to teach; SFT at lr 3e-4",
                                               lambda p: _ft(dataclasses.replace(_teacher_both(p),
                                                                                 pretrain_solved=0.2), 3e-4)),
    "base-5x-teacher-both-solved-0.2-10ep": ("as base-5x-teacher-both-solved-0.2-lr3e-4, SFT for 10 epochs "
                                             "(SFT carrying more of the skill)",
                                             lambda p: _scaling(_ft(dataclasses.replace(
                                                 _teacher_both(p), pretrain_solved=0.2), 3e-4), epochs=10.0)),
    "base-5x-teacher-both-solved-0.2-20ep": ("as base-5x-teacher-both-solved-0.2-10ep, SFT for 20 epochs",
                                             lambda p: _scaling(_ft(dataclasses.replace(
                                                 _teacher_both(p), pretrain_solved=0.2), 3e-4), epochs=20.0)),
    # The study's time limit (20 min on 2 cores for 30 cells and two methods) allows about 3
    # epochs over each size, so SFT must move pi_base within a few hundred steps: a pi_base half-way up
    # its learning curve (between the solved-0.2 and solved-1.0 bases), SFT at a gentle rate, and no
    # step floor (the smallest sets are not forced through 12 epochs of memorization).
    "solved-0.5-3ep": ("pi_base as base-5x-teacher-both with worked solutions for half its stories (7,500 of "
                       "15,000 per world); SFT at lr 3e-4 for exactly 3 epochs (no step floor)",
                       lambda p: _scaling(_ft(dataclasses.replace(_teacher_both(p), pretrain_solved=0.5), 3e-4),
                                          min_steps=1)),
    "solved-0.5-6ep": ("as solved-0.5-3ep, SFT for exactly 6 epochs",
                       lambda p: _scaling(_ft(dataclasses.replace(_teacher_both(p), pretrain_solved=0.5), 3e-4),
                                          min_steps=1, epochs=6.0)),
    # (solved-0.35-6ep was withdrawn before it ran: 6 epochs of SFT do not fit the
    # study's 20 minutes, and solved-0.5-6ep had shown more epochs hurting the smallest size)
    # math-like is the setting short of the regime (coverage 0.52, sample accuracy 0.13 at 3 epochs): an
    # easier math-like world, pi_base unchanged (still read both preset worlds: the world of D_syn and the
    # test is a part of what pi_base read, as MATH is a part of what a math base model read)
    "solved-0.5-3ep-math-3-steps": ("as solved-0.5-3ep (same pi_base), math-like problems of exactly 3 steps "
                                    "(not 3-4), facts shuffled, one distractor",
                                    lambda p: _math_world(_solved_half(p), ArithConfig(
                                        min_steps=3, max_steps=3, n_distractors=1, shuffle_facts=True))),
    "solved-0.5-3ep-math-2-3-steps": ("as solved-0.5-3ep (same pi_base), math-like problems of 2-3 steps, "
                                      "facts shuffled, one distractor (gsm8k-like with its facts out of order)",
                                      lambda p: _math_world(_solved_half(p), MATH_2_3)),
    # On that pair of worlds SFT is slightly worse than pi_base at 64 in both settings (+0.017, +0.020) and
    # falls 0.08-0.09: how SFT's first steps move pi_base decides the smallest size. Three SFT set-ups:
    "half-lr2e-4-4ep": ("as solved-0.5-3ep-math-2-3-steps, SFT at lr 2e-4 for 4 epochs (smaller steps, a few more)",
                        lambda p: _scaling(_ft(_half_2_3(p), 2e-4), epochs=4.0)),
    "half-warmup-0.3": ("as solved-0.5-3ep-math-2-3-steps, SFT's warmup over 30% of its steps, not 5% (Adam's "
                        "moments settle before the full rate: fresh moments make its first steps sign-like)",
                        lambda p: _warmup(_half_2_3(p), 0.3)),
    "half-lr1e-4-6ep": ("as solved-0.5-3ep-math-2-3-steps, SFT at lr 1e-4 for 6 epochs",
                        lambda p: _scaling(_ft(_half_2_3(p), 1e-4), epochs=6.0)),
    # Every SFT set-up above gains about 0.07 at 1,024 over a pi_base that has read solutions of the very
    # kind D_syn holds. In the paper the synthetic data teaches what the base model lacks: a pi_base that
    # read every problem solved *except* those needing a "times" step (48% of problems), which it reads
    # unsolved; D_syn then teaches that skill. math-like: 2-3 steps, facts shuffled.
    "times-unsolved": ("pi_base on 30,000 teacher-style documents from both settings' worlds (gsm8k-like; "
                       "2-3 steps shuffled), every story solved except those needing a 'times' step; SFT at lr "
                       "3e-4 for exactly 3 epochs",
                       lambda p: _teacher_both(_scaling(_ft(dataclasses.replace(
                           _math_world(p, MATH_2_3),
                           pretrain_unsolved_ops=("times",)), 3e-4), min_steps=1))),
    # times-unsolved became the cpu preset: four of five targets hold in the full study, but
    # SFT on 64 and 128 problems is worse than pi_base (full finetuning moves every weight of a model
    # that was already right on half the problems). LoRA is the paper's regime for a 7B model and keeps
    # pi_sft near pi_base (Biderman et al. 2024, "LoRA learns less and forgets less"). LoRA needs a
    # higher rate than full finetuning; both rates are written here before either ran.
    "times-unsolved-lora-r16-lr1e-3": ("as times-unsolved, SFT through LoRA adapters (r 16, alpha 16, every "
                                       "linear layer, merged after training) at lr 1e-3",
                                       lambda p: _lora(_times_unsolved(p), 16, 1e-3)),
    "times-unsolved-lora-r16-lr3e-3": ("as times-unsolved-lora-r16-lr1e-3, at lr 3e-3",
                                       lambda p: _lora(_times_unsolved(p), 16, 3e-3)),
    # Neither LoRA rate keeps SFT at 64 problems level with pi_base. A researcher keeps the
    # checkpoint that does best on a validation split: pi_sft is the end of SFT's epoch 1, 2 or 3 with the
    # lowest greedy error on 200 dev problems (apart from D_syn and the test set). Step 0 (pi_base itself)
    # is no candidate: keeping it would meet "never worse than pi_base" by not finetuning at all.
    "times-unsolved-sft-best-dev": ("as times-unsolved (the cpu preset), pi_sft is the end of SFT's epoch 1, 2 "
                                    "or 3 with the lowest greedy error on 200 dev problems (early stopping; "
                                    "never step 0)",
                                    lambda p: dataclasses.replace(_times_unsolved(p), sft_keep="best_dev")),
    # At 64 problems SFT loses 5-15 points on the problems pi_base already solved ("other" than
    # times) and gains nothing yet on "times" ones: forgetting. The standard guard is replay (rehearsal):
    # finetuning also trains on pi_base's own corpus. Half a document per D_syn row, so that a small D_syn
    # is anchored and a large one still dominates the gradient; steps grow with the rows. Not in the paper.
    "times-unsolved-replay-0.5": ("as times-unsolved (the cpu preset), SFT also trains on 0.5 of pi_base's own "
                                  "corpus documents per D_syn row (replay, loss on every token; 3 epochs over "
                                  "the mixed rows, so 1.5x the steps)",
                                  lambda p: dataclasses.replace(_times_unsolved(p), finetune_replay=0.5)),
}


def _times_unsolved(preset: Preset) -> Preset:
    return PROBES["times-unsolved"][1](preset)


def _lora(preset: Preset, r: int, lr: float) -> Preset:
    """SFT and RFT through LoRA adapters of rank r (pretraining stays full), at rate lr."""
    return _ft(dataclasses.replace(preset, model=dataclasses.replace(preset.model, lora_r=r)), lr)


def _half_2_3(preset: Preset) -> Preset:
    return _math_world(_solved_half(preset), MATH_2_3)


def _warmup(preset: Preset, ratio: float) -> Preset:
    return dataclasses.replace(preset, sft=dataclasses.replace(preset.sft, warmup_ratio=ratio),
                               rft=dataclasses.replace(preset.rft, warmup_ratio=ratio))


def _solved_half(preset: Preset) -> Preset:
    """The solved-0.5-3ep preset."""
    return _scaling(_ft(dataclasses.replace(_teacher_both(preset), pretrain_solved=0.5), 3e-4), min_steps=1)


def _math_world(preset: Preset, world: ArithConfig) -> Preset:
    """math-like on another world; pi_base's corpus stays as it was (pretrain_worlds kept)."""
    settings = tuple(dataclasses.replace(s, world=world) if s.name == "math-like" else s
                     for s in preset.scaling.settings)
    return _scaling(preset, settings=settings)


def run(preset: Preset | str, name: str) -> pd.DataFrame:
    """The probe's cells as positive-scaling results, with its name and description: the probe's change
    of the pre-issue-11 cpu preset (`BEFORE`), or of another preset given by value or name."""
    preset = BEFORE if preset == "cpu" else get_preset(preset) if isinstance(preset, str) else preset
    what, change = PROBES[name]
    return positive_scaling.run(change(preset), sizes=SIZES, seeds=(0,), methods=("SFT",)).assign(
        study=STUDY, probe=name, probe_change=what)


def claims(results: pd.DataFrame) -> pd.DataFrame:
    """The regime targets, judged."""
    return check(results)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from synthrl.datafiles import atomic_write_text
    from synthrl.results import data_dir, to_csv

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=list(PROBES))
    parser.add_argument("--preset", default="cpu")
    args = parser.parse_args(argv)
    name, preset = args.name, args.preset
    start = time.perf_counter()
    results = run(preset, name)
    path = data_dir() / "results" / "probes" / f"regime_{name}__{preset}.csv"
    atomic_write_text(path, to_csv(results))
    print(check(results).to_string())
    print(f"{path} ({time.perf_counter() - start:.0f} s)")
    return 0


def ledger(results_by_probe: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per probe and setting: the regime's numbers and how many of its five targets hold."""
    rows = []
    for name, results in results_by_probe.items():
        checked = check(results)
        for setting, r in results.groupby("setting"):
            sft = r[(r.method == "SFT") & (r.metric == "test_error")].groupby("n_problems")["value"].mean()
            mid = sorted(sft.index)[len(sft) // 2]
            at = lambda m: r[(r.method == "pi_sft") & (r.metric == m) & (r.n_problems == mid)]["value"].mean()  # noqa: E731
            base = r[(r.method == "pi_base") & (r.metric == "test_error")]["value"]
            held = checked[checked.setting == setting]["holds"]
            rows.append({"probe": name, "setting": setting, "pi_base": f"{base.iloc[0]:.3f}",
                         "SFT": " / ".join(f"{v:.3f}" for v in sft), "coverage": f"{at('coverage'):.2f}",
                         "sample accuracy": f"{at('sample_accuracy'):.2f}",
                         "targets held": f"{int(held.sum())} of {len(held)}"})
    return pd.DataFrame(rows)


def committed() -> dict[str, pd.DataFrame]:
    """Every committed probe's results, in the order of PROBES."""
    from synthrl.results import data_dir, read_table

    found = {}
    for name in PROBES:
        path = data_dir() / "results" / "probes" / f"regime_{name}__cpu.csv"
        if path.exists():
            found[name] = read_table(path)
    return found
