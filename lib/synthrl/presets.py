"""Presets: one code path, four scales (design.md). A preset is a plain dataclass value (`synthrl.config`).

`get_preset(name, **over)` returns a validated copy with fields replaced; unknown fields raise with the
valid names.
"""
from __future__ import annotations

import dataclasses

from synthrl.config import (
    HARD_WORLD,
    CreditConfig,
    ModelConfig,
    NegativeConfig,
    PreferenceConfig,
    Preset,
    SampleConfig,
    ScalingConfig,
    Setting,
    SpuriousConfig,
    StarConfig,
    TrainConfig,
)
from synthrl.tasks.arith import ArithConfig
from synthrl.tasks.stargraph import StarGraphConfig

# The star graph on one GPU: Bachmann & Nagarajan's G(2,5,50), 200k training graphs and their
# 6-layer, 384-wide model; steps, batch and DPO starts are our choice (not yet run on a GPU).
GPU_STAR = StarConfig(
    graph=StarGraphConfig(2, 5, 50), n_train=200_000, n_test=2000, n_eval_train=2000, q_rollouts=16,
    model=ModelConfig(hidden_size=384, n_layers=6, n_heads=6, intermediate_size=1536, max_positions=64, bf16=True),
    sft=TrainConfig(batch_size=256, lr=5e-4, warmup_ratio=0.02, max_steps=10_000),
    checkpoints=(0, 250, 500, 1000, 2000, 4000, 6000, 8000, 10_000), dpo_from=(250, 500, 1000), dpo_from_over=8000,
    dpo=PreferenceConfig(lr=1e-4, batch_size=128, max_steps=1000), dpo_eval_every=100)

PRESETS: dict[str, Preset] = {
    # Tests and CI: everything tiny; a notebook in well under a minute.
    "smoke": Preset(
        name="smoke",
        world=ArithConfig(min_steps=1, max_steps=2, max_value=10, n_names=8),
        model=ModelConfig(hidden_size=64, n_layers=2, n_heads=2, intermediate_size=128, max_positions=160),
        n_train=160, n_test=32, n_pretrain_docs=200,
        pretrain=TrainConfig(epochs=1.0, batch_size=32),
        sft=TrainConfig(epochs=2.0, batch_size=32),
        rft=TrainConfig(epochs=2.0, batch_size=32),
        sampling=SampleConfig(n=2, max_new_tokens=48, batch_size=64),
        credit=CreditConfig(n_traces=6, n_rollouts=4),
        scaling=ScalingConfig(sizes=(16, 32, 64), seeds=(0, 1), epochs=1.0, min_steps=4, nll_samples=16,
                              workers=1, settings=(Setting("gsm8k-like"), Setting("math-like", world=ArithConfig(
                                  min_steps=2, max_steps=3, max_value=10, n_names=8, shuffle_facts=True)))),
        star=StarConfig(graph=StarGraphConfig(2, 4, 15), n_train=200, n_test=40, n_eval_train=40, q_rollouts=4,
                        model=ModelConfig(hidden_size=32, n_layers=2, n_heads=2, intermediate_size=64, max_positions=48),
                        sft=TrainConfig(batch_size=32, lr=3e-3, warmup_ratio=0.05, max_steps=60),
                        checkpoints=(0, 10, 20, 40, 60), dpo_from=(10, 20), dpo_from_over=60,
                        dpo=PreferenceConfig(lr=1e-3, batch_size=16, max_steps=10), dpo_eval_every=5),
        negative=NegativeConfig(sizes=(16,), seeds=(0,), q_traces=8),  # the notebook in seconds; tests give more sizes
        spurious=SpuriousConfig(size=16, seeds=(0,), samples=8, counts=(1, 2, 4), reference_count=2,
                                credit=CreditConfig(n_rollouts=2)),
    ),
    # A laptop with 2 cores: the quickstart in about 5 minutes (pi_base shipped: `make pi-base`).
    # 64 rollouts per prefix (our choice): notebook 05 reports 1..64; between 16 and 64 the paper's
    # first pits move past the first error, the largest drop keeps improving. Cascade decoding
    # makes the 64 cost under a minute per policy.
    # pi_base and SFT put the studies in the paper's regime (docs/regime.md; the probes that chose them
    # are in synthrl.probes.regime, this is "times-unsolved"): pi_base read
    # 30,000 documents of both settings' worlds with solutions in the teacher's styles (as a math base
    # model has read solutions written many ways), every story solved except those needing a "times"
    # step, which it reads unsolved: D_syn teaches that skill, as the paper's synthetic data teaches its
    # base model. SFT and RFT at lr 3e-4 (a third of pi_base's peak: at 1e-3 SFT undid pretraining,
    # probes base-5x-teacher-both*) for exactly 3 epochs (no step floor), the budget that keeps the
    # positive-scaling study under 20 minutes on 2 cores. The quickstart's SFT: 4 epochs over its 2,000
    # problems (with RFT at SFT's step count, `make demo` stays under 7 minutes). Every policy is scored
    # on 1,319 held-out problems, as many as GSM8K's test split: the paired tests (the regime gate's
    # McNemar of SFT against pi_base, per seed) need them, and greedy scoring costs seconds.
    "cpu": Preset(name="cpu", n_test=1319, credit=CreditConfig(n_rollouts=64), n_pretrain_docs=30000,
                  pretrain_solved=1.0,
                  pretrain_style="teacher", pretrain_worlds=(ArithConfig(), HARD_WORLD),
                  pretrain_unsolved_ops=("times",), sft=TrainConfig(epochs=4.0, lr=3e-4),
                  rft=TrainConfig(epochs=4.0, lr=3e-4),
                  # The positive-scaling study where the paper's premise holds: SFT is no worse than pi_base
                  # from 256 problems on (fixed from SFT alone before the run), 16x from 256; RFT both at SFT's
                  # steps and at its own epochs over D+ (the paper's setting), and RFT-1 (one positive per
                  # problem, Fig. 9). SFT alone at 8,192: an 8x effect at the negative study's larger size is
                  # read inside SFT's measured range
                  scaling=ScalingConfig(sizes=(256, 512, 1024, 2048, 4096), sft_sizes=(8192,), min_steps=1,
                                        methods=("SFT", "RFT", "RFT-epochs", "RFT-1")),
                  # The negative-data study at the two smallest sizes where the regime gate holds in both
                  # settings (SFT better than pi_base by McNemar in every seed: 512 and 1,024; at 256 it is not),
                  # a rule fixed before SFT's cells were read; the paper's 8 negatives per problem, 3 seeds, both
                  # settings. Pooled advantages, AWR, advantage-filtered RFT and GRPO at the smaller size only
                  # (their cost). Rollouts decode 1,024 rows at a time (probe decode_batch: 1.6x the 128 of
                  # sampling)
                  negative=NegativeConfig(sizes=(512, 1024), seeds=(0, 1, 2), negatives_per_problem=8,
                                          methods=("oracle per-step DPO", "naive DPO", "DPOP"),
                                          smallest_size_methods=("pooled per-step DPO", "AWR",
                                                                 "advantage-filtered RFT", "GRPO"),
                                          credit=CreditConfig(n_rollouts=8, rollout_batch=1024)),
                  # RFT's spurious positives at the smallest size of the regime (as the negative study's)
                  spurious=SpuriousConfig(size=512)),
    # One GPU: a harder world and a ~20M-parameter model.
    "gpu": Preset(
        name="gpu",
        world=ArithConfig(min_steps=3, max_steps=6, n_distractors=2, max_value=50, n_names=20,
                          shuffle_facts=True),
        model=ModelConfig(hidden_size=384, n_layers=8, n_heads=6, intermediate_size=1024,
                          max_positions=384, bf16=True, cpu_bf16=None),  # on a CPU: bf16 where native (bench)
        n_train=20000, n_test=1000, n_pretrain_docs=60000,
        pretrain=TrainConfig(epochs=2.0, batch_size=128, lr=6e-4),
        sft=TrainConfig(epochs=3.0, batch_size=128, lr=6e-4),
        rft=TrainConfig(epochs=3.0, batch_size=128, lr=6e-4),
        sampling=SampleConfig(n=8, max_new_tokens=160, batch_size=512),
        scaling=ScalingConfig(sizes=(1250, 2500, 5000, 10000, 20000), workers=1, settings=(
            Setting("gsm8k-like"), Setting("math-like", world=ArithConfig(
                min_steps=5, max_steps=8, n_distractors=2, max_value=50, n_names=20, shuffle_facts=True)))),
        star=GPU_STAR,
    ),
    # The paper: GSM8K with DeepSeek-Math-7B under QLoRA on one 24 GB+ GPU (hub access needed).
    "paper": Preset(
        name="paper",
        task="gsm8k",
        model=ModelConfig(pretrained="deepseek-ai/deepseek-math-7b-base", lora_r=64, lora_alpha=16,
                          load_in_4bit=True, bf16=True, max_positions=1024),
        n_train=7473, n_test=1319,  # GSM8K train/test sizes
        sft=TrainConfig(epochs=3.0, batch_size=64, lr=1e-5),  # our choice, in the paper's 1e-5..1e-6 range
        rft=TrainConfig(epochs=3.0, batch_size=64, lr=1e-5),
        sampling=SampleConfig(n=8, temperature=0.7, max_new_tokens=512, batch_size=256,
                              positives_per_problem=4),  # 8 samples per problem as for D- in the paper
        # Subsets of the real training sets (GSM8K 7,473, MATH 7,500 problems) stand in for the
        # paper's GPT-4 problems, which were not released: 16x in five doublings.
        scaling=ScalingConfig(sizes=(467, 934, 1868, 3736, 7472), workers=1,
                              settings=(Setting("gsm8k", task="gsm8k"), Setting("math", task="math"))),
        star=GPU_STAR,  # the star graph is didactic: trained from scratch, as in the paper
    ),
}


def get_preset(name: str, **overrides) -> Preset:
    """The named preset with top-level fields replaced, validated."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    preset = PRESETS[name]
    valid = {f.name for f in dataclasses.fields(Preset)}
    unknown = set(overrides) - valid
    if unknown:
        raise ValueError(f"unknown preset fields {sorted(unknown)}; valid fields: {sorted(valid)}")
    return dataclasses.replace(preset, **overrides)


# Training recipes for the cpu studies: options of TRL's trainer and of the model it trains, set on a
# TrainConfig, in the order they were tried (`synthrl.bench.recipe` measures each and holds the
# rule that adopts one). The second keeps the first's levers that leave the batches as they are.
RECIPE_CANDIDATES = {
    "grouped, bf16, eager attention": {"length_grouped": True, "bf16_autocast": True, "attention": "eager"},
    "bf16, eager attention": {"bf16_autocast": True, "attention": "eager"},
}
