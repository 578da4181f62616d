"""Configs: every dataclass a preset is made of, and the names they validate (design.md).

Every default names its source: the paper, a peer, or "our choice". The four presets built from them
are in `synthrl.presets`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from synthrl.tasks.arith import ArithConfig
from synthrl.tasks.stargraph import StarGraphConfig


@dataclass(frozen=True)
class ModelConfig:
    """A small Llama built from scratch, or a pretrained model (optionally QLoRA)."""

    hidden_size: int = 160  # our choice: ~1.3M parameters with the defaults below
    n_layers: int = 4
    n_heads: int = 4
    intermediate_size: int = 448
    max_positions: int = 256  # our choice: the longest arith prompt + solution is ~150 tokens
    pretrained: str | None = None  # hub id or local path; None builds from scratch
    # LoRA adapters for finetuning (SFT, RFT): 0 = full finetuning; the QLoRA paper (Dettmers et al. 2023)
    # uses 64. Pretraining a pi_base from scratch always trains every weight.
    lora_r: int = 0
    lora_alpha: int = 16  # QLoRA paper default
    lora_dropout: float = 0.05  # QLoRA paper uses 0.05-0.1
    load_in_4bit: bool = False  # QLoRA: NF4 weights, double quantization, bf16 compute (CUDA only)
    bf16: bool = False  # on a GPU: bf16 compute (autocast, fp32 master weights) and a hub model's frozen base in bf16
    # Training on a CPU under bf16 autocast (fp32 master weights, TRL's `bf16`): True, False, or None =
    # where the CPU has native bf16 (AVX512_BF16 or AMX; `synthrl.hardware`). False by default: on this
    # kit's machine (native bf16) `make bench` measured the ~1.3M-parameter cpu model slower under bf16
    # than in fp32 (data/results/bench__cpu.csv); a model of the gpu preset's size trained faster.
    cpu_bf16: bool | None = False

    def __post_init__(self) -> None:
        if self.hidden_size % self.n_heads:
            raise ValueError(f"hidden_size {self.hidden_size} must be divisible by n_heads {self.n_heads}")
        if self.load_in_4bit and (self.pretrained is None or self.lora_r <= 0):
            raise ValueError("load_in_4bit (QLoRA) needs a pretrained model and lora_r > 0")
        if self.lora_r < 0:
            raise ValueError(f"lora_r must be >= 0, got {self.lora_r}")


@dataclass(frozen=True)
class TrainConfig:
    """One training run (TRL SFTTrainer arguments we set)."""

    epochs: float = 6.0  # our choice (cpu preset)
    # Our choice, measured on the cpu preset: at equal compute, batch 8 at lr 1e-3 reached SFT test
    # error 0.58 where batch 16 at 2e-3 reached 0.73 and batch 32 at 2e-3 0.80 (the tiny model
    # needs optimizer steps more than large batches). The paper's 7B runs use lr 1e-5 to 1e-6.
    batch_size: int = 8
    lr: float = 1e-3
    warmup_ratio: float = 0.05  # our choice; must stay < 1 (a fraction of all steps)
    weight_decay: float = 0.0
    max_steps: int = -1  # > 0 overrides epochs
    # The training recipe: options of TRL's trainer, each measured by `synthrl.bench.recipe`.
    # Batches of rows of similar length (transformers' LengthGroupedSampler: megabatches of 50 batches,
    # sorted by length), so that little compute goes to padding; the batches are drawn otherwise.
    length_grouped: bool = False
    # bf16 autocast (fp32 master weights) for this run; None: the model's (`hardware.train_bf16`)
    bf16_autocast: bool | None = None
    compiled: bool = False  # torch.compile of the model (TRL's torch_compile; inductor, shapes as they come)
    # The attention kernel while training ("eager", "sdpa", ...; "": the model's). The trained checkpoint
    # keeps the model's own: this is a training knob, not part of the model.
    attention: str = ""

    def __post_init__(self) -> None:
        if self.epochs <= 0 and self.max_steps <= 0:
            raise ValueError("set epochs > 0 or max_steps > 0")
        if self.batch_size < 1 or self.lr <= 0:
            raise ValueError(f"batch_size must be >= 1 and lr > 0, got {self.batch_size}, {self.lr}")


@dataclass(frozen=True)
class SampleConfig:
    """Sampling pi_sft for D+ (and D- later)."""

    n: int = 4  # samples per problem; our choice (Yuan et al.'s RFT uses up to 100)
    temperature: float = 0.7  # RFT (Yuan et al. 2023) samples at 0.7, as the paper preset does
    max_new_tokens: int = 96  # our choice: 1.5x the longest teacher solution of the cpu world
    batch_size: int = 128  # sequences generated together
    positives_per_problem: int = 4  # D+ keeps up to this many distinct correct samples per problem (our choice)

    def __post_init__(self) -> None:
        if self.n < 1 or self.positives_per_problem < 1:
            raise ValueError("n and positives_per_problem must be >= 1")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")


@dataclass(frozen=True)
class CreditConfig:
    """Monte-Carlo credit assignment: rollouts from every step prefix of negative traces."""

    n_traces: int = 120  # our choice: negative traces of pi_sft scored (one per problem)
    n_rollouts: int = 16  # our choice: rollouts per prefix (validation reports 1, 2, 4, ... of them)
    temperature: float = 1.0  # our choice: rollouts sample pi_sft as it was trained
    k: int = 5  # paper: Q under BoK(pi_sft) with K = 5
    # Traces per rollout batch: 0 = all of a stage's traces in one batch; > 0 splits them into batches,
    # which run on Ray's sampler actors where Ray is running (`synthrl.pool`). Every rollout draws from its
    # own stream (`synthrl.streams`), so the split changes no rollout. Our choice
    batch_traces: int = 0
    # Sequences decoded together in rollouts (0: the preset's `sampling.batch_size`). For speed only: every
    # size gives the same rollouts (probe decode_batch: 1,024 rows decode 1.6x faster than 128 on 2 cores)
    rollout_batch: int = 0

    def __post_init__(self) -> None:
        if self.n_traces < 1 or self.n_rollouts < 1 or self.k < 1 or self.batch_traces < 0 or self.rollout_batch < 0:
            raise ValueError("n_traces, n_rollouts and k must be >= 1, batch_traces and rollout_batch >= 0")


@dataclass(frozen=True)
class PreferenceConfig:
    """The preference trainer (`synthrl.preference`): DPO, DPOP and per-step DPO."""

    loss: str = "dpo"  # "dpo" or "dpop"; per-step DPO is "dpo" on per-step pairs
    beta: float = 0.1  # DPO default (Rafailov et al.); the paper does not say
    dpop_lambda: float = 50.0  # our choice; Pal et al. 2024 tune lambda per task
    lr: float = 1e-4  # our choice for from-scratch models
    batch_size: int = 16
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    seed: int = 0
    # Warmup over this fraction of the steps, then `lr_scheduler` ("constant", "linear", "cosine"), and
    # gradients clipped at `max_grad_norm` (None: not clipped): the alignment handbook's DPO recipe
    # (zephyr-7b-dpo: warmup 0.1, cosine) and transformers' default clip of 1.0
    warmup_ratio: float = 0.1
    lr_scheduler: str = "cosine"
    max_grad_norm: float | None = 1.0

    def __post_init__(self) -> None:
        if self.loss not in ("dpo", "dpop"):
            raise ValueError(f"loss must be 'dpo' or 'dpop', got {self.loss!r}")
        if self.beta <= 0 or self.dpop_lambda < 0 or self.lr <= 0 or self.batch_size < 1:
            raise ValueError("need beta > 0, dpop_lambda >= 0, lr > 0, batch_size >= 1")
        if not 0 <= self.warmup_ratio < 1 or self.lr_scheduler not in ("constant", "linear", "cosine"):
            raise ValueError("need 0 <= warmup_ratio < 1 and lr_scheduler 'constant', 'linear' or 'cosine'")
        if self.max_grad_norm is not None and self.max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm must be > 0 or None, got {self.max_grad_norm}")


@dataclass(frozen=True)
class PairsConfig:
    """`python -m synthrl pairs` (`synthrl.pairs.build`): per-step data from a researcher's own model."""

    samples_per_problem: int = 8  # k; paper: 8 samples of pi_sft per problem for D- (its practical recipe)
    negatives_per_problem: int = 8  # paper: up to 8 incorrect samples per problem are credited
    n_rollouts: int = 16  # rollouts per step prefix; as CreditConfig (our choice; the paper does not say)
    bok_k: int = 5  # paper: Q under BoK(pi_sft) with K = 5
    first_pit: str = "min"  # paper: the step where Q is lowest (FIRST_PIT_DEFINITIONS)
    temperature: float = 0.7  # samples: RFT's (Yuan et al. 2023), as SampleConfig
    rollout_temperature: float = 1.0  # rollouts sample the policy as it was trained, as CreditConfig
    max_new_tokens: int = 512  # our choice: GSM8K and MATH solutions of a 7B model fit
    prompt: str = "plain"  # "plain" (the task's "Question: ...\nAnswer:\n") or "chat" (the model's template)
    batch_size: int = 64  # sequences decoded together (speed only: every size samples the same)
    seed: int = 0
    # A checker that reads no answer in more than this share of samples stops the run: the prompt or the
    # checker does not fit the model (our choice)
    max_no_answer: float = 0.5

    def __post_init__(self) -> None:
        counts = (self.samples_per_problem, self.negatives_per_problem, self.n_rollouts, self.bok_k, self.batch_size)
        if min(counts) < 1:
            raise ValueError("samples_per_problem, negatives_per_problem, n_rollouts, bok_k, batch_size must be >= 1")
        if self.first_pit not in FIRST_PIT_DEFINITIONS:
            raise ValueError(f"first_pit must be one of {FIRST_PIT_DEFINITIONS}, got {self.first_pit!r}")
        if self.prompt not in ("plain", "chat"):
            raise ValueError(f"prompt must be 'plain' or 'chat', got {self.prompt!r}")


@dataclass(frozen=True)
class Setting:
    """One setting (arm) of a study: a task, for arith its world (None = the preset's), and the
    learning rate of SFT and RFT (None = the preset's `sft.lr` and `rft.lr`)."""

    name: str  # e.g. "gsm8k-like"
    task: str = "arith"
    world: ArithConfig | None = None
    sft_lr: float | None = None

    def __post_init__(self) -> None:
        if self.sft_lr is not None and self.sft_lr <= 0:
            raise ValueError(f"setting {self.name!r}: sft_lr must be > 0, got {self.sft_lr}")


# The MATH stand-in: facts out of story order, same names, items and numbers as the cpu world, so one
# pi_base serves both settings, as one base model serves GSM8K and MATH in the paper. Our choice. Chains
# of 3-4 steps put math-like out of the paper's regime for the cpu model: pi_sft solved about half of its
# problems with 8 samples and 13-19% of its samples (regime probes solved-0.5-3ep,
# solved-0.5-3ep-math-3-steps); with 2-3 steps it solves most, as pi_sft does on MATH in the paper.
# How a negative trace's first pit is read from its step Q-values (`synthrl.credit.first_pit`)
FIRST_PIT_DEFINITIONS = ("min", "no_success", "max_drop")

HARD_WORLD = ArithConfig(min_steps=2, max_steps=3, n_distractors=1, shuffle_facts=True)


# The positive-scaling cell's methods: SFT; RFT at SFT's optimizer steps (`Preset.rft_steps`); RFT-epochs, RFT
# for the study's epochs over its own D+ (as SFT over D_syn: the paper's setting); RFT-1, one positive a problem
SCALING_METHODS = ("SFT", "RFT", "RFT-epochs", "RFT-1")


@dataclass(frozen=True)
class ScalingConfig:
    """The positive-data scaling study (Figs. 2a/2b, 3, 9): SFT and RFT at several |D_syn|."""

    sizes: tuple[int, ...] = (64, 128, 256, 512, 1024)  # our choice: 16x, nested per seed
    # Sizes at which only SFT is trained (no samples, no RFT): SFT's measured range extended, so that a
    # method's k-fold efficiency can be read inside it (an 8x effect at n needs SFT measured at 8n)
    sft_sizes: tuple[int, ...] = ()
    seeds: tuple[int, ...] = (0, 1, 2)  # paper: a power law needs several seeds per size
    settings: tuple[Setting, ...] = (Setting("gsm8k-like"), Setting("math-like", world=HARD_WORLD))
    # Our choice: every run trains `epochs` passes over its data, but at least `min_steps`
    # optimizer steps, so the smallest sets are not simply under-trained (the cpu preset runs exactly
    # its epochs, min_steps 1: at 100 steps, 12 epochs of 64 problems were memorization, regime probes
    # solved-0.5-*).
    epochs: float = 3.0
    min_steps: int = 100
    # RFT-1 (one positive per problem, Fig. 9): a method of the cpu preset's study; where a preset leaves it
    # out, its own run, `positive_scaling.run(..., ablation="one_positive")`, saved as
    # positive_scaling_one_positive
    methods: tuple[str, ...] = ("SFT", "RFT")
    # pi_sft's samples per D_syn problem, from which D+ is drawn: the paper samples 8 per problem
    # (for D-), and the regime's coverage is "one of 8 samples right" (synthrl.regime)
    samples_per_problem: int = 8
    # The learning-rate ablation (`positive_scaling.run(..., ablation="lr")`, saved as
    # positive_scaling_lr, run on its own so that the main study stays under 20 min on 2 cores):
    # a third of the cpu preset's SFT/RFT lr keeps pi_sft nearer pi_base, the model Fig. 3 scores D+
    # under. Our choice.
    lr_arms: tuple[Setting, ...] = (Setting("gsm8k-like, lr 1e-4", sft_lr=1e-4),)
    nll_samples: int = 400  # Fig. 3: solutions of each kind scored under pi_base (largest size, first seed)
    # cells at once (a local Ray instance); measured on 2 cores: 2 one-thread cells train 1.42x faster than one
    workers: int = 2

    def __post_init__(self) -> None:
        if len(self.sizes) < 2 or min(self.sizes) < 1 or not self.seeds or not self.settings:
            raise ValueError("need two or more positive sizes, one or more seeds and settings")
        if set(self.sft_sizes) & set(self.sizes) or any(n < 1 for n in self.sft_sizes):
            raise ValueError(f"sft_sizes must be positive and apart from sizes; got {self.sft_sizes}")
        if self.epochs <= 0 or self.min_steps < 1 or self.workers < 1 or self.samples_per_problem < 1:
            raise ValueError("need epochs > 0, min_steps >= 1, workers >= 1 and samples_per_problem >= 1")
        if "SFT" not in self.methods or not set(self.methods) <= set(SCALING_METHODS):
            raise ValueError(f"methods must include 'SFT' and be among {', '.join(SCALING_METHODS)}; got {self.methods}")


# The negative-data study's methods beside per-step DPO with an estimated cut (one per first-pit definition)
NEGATIVE_METHODS = ("oracle per-step DPO", "pooled per-step DPO", "naive DPO", "DPOP", "AWR", "advantage-filtered RFT",
                    "GRPO")


@dataclass(frozen=True)
class NegativeConfig:
    """The negative-data study (Figs. 5, 10, 11; `synthrl.studies.negative_scaling`) on the cells of the
    positive-scaling study: D- from pi_sft's samples there, pairs and weights from `synthrl.pairs`."""

    # The cells the methods run in (empty: the scaling study's sizes and seeds). SFT and RFT come from the
    # positive-scaling cells at every scaling size, so that a method's k-fold over SFT is read inside
    # SFT's measured range: an 8x effect at n needs SFT measured at 8n.
    sizes: tuple[int, ...] = ()
    seeds: tuple[int, ...] = ()
    negatives_per_problem: int = 8  # paper: 8 incorrect samples of pi_sft per problem
    # Per-step DPO runs once per first-pit definition (credit.FIRST_PIT_DEFINITIONS), each judged: none
    # is picked by its result. The first is the paper's, which the pooled variant (Fig. 10) uses.
    first_pits: tuple[str, ...] = ("min", "no_success", "max_drop")
    chosen: str = "self"  # the chosen side: pi_sft's own positives (pairs.chosen_by_problem says why)
    # Rollouts per step prefix under BoK(pi_sft), K = 5 (paper); the count is our choice (the paper does
    # not say), fixed before any run: 8, the number of samples per problem D- and D+ come from
    credit: CreditConfig = field(default_factory=lambda: CreditConfig(n_rollouts=8))
    dpo: PreferenceConfig = field(default_factory=PreferenceConfig)  # max_steps: SFT's, set per cell
    # The preference methods train this many times SFT's optimizer steps on the cell's D_syn (1: equal
    # compute, the study's rule; more only for probes, `synthrl.probes.negative`)
    steps_multiple: int = 1
    # AWR's temperature (our choice): advantages are differences of probabilities in [-1, 1], so 0.1
    # spans weights from e^-10 to the clip at 20 (Peng et al. 2019)
    awr_beta: float = 0.1
    filter_drop: float = 0.5  # paper (Fig. 11): drop the responses in the bottom 50% of minimum advantage
    # GRPO (TRL), the outcome-reward online RL users pick: groups of 8 samples per problem (the paper's 8
    # per problem), `grpo_epochs` passes over D_syn's problems. 1 pass samples as many completions as D-
    # and D+ come from; per-step DPO's rollouts come on top, and the cost rows show them. Our choice.
    grpo_generations: int = 8
    grpo_epochs: float = 1.0
    methods: tuple[str, ...] = NEGATIVE_METHODS
    # Methods run beside `methods` at the study's smallest size only (empty: none; our choice, for their cost)
    smallest_size_methods: tuple[str, ...] = ()
    # Fig. 7 (claim C6), in the largest cell of the first seed: pi_sft's first sample of each of this many test
    # problems, every step prefix scored by rollouts (`credit`) under pi_sft, per-step DPO (the first pit
    # definition) and naive DPO, each step by its exact label. Our choice; 0: not measured
    q_traces: int = 60

    def __post_init__(self) -> None:
        if unknown := set(self.methods + self.smallest_size_methods) - set(NEGATIVE_METHODS):
            raise ValueError(f"unknown methods {sorted(unknown)}; choose from {NEGATIVE_METHODS}")
        if not self.first_pits or set(self.first_pits) - set(FIRST_PIT_DEFINITIONS):
            raise ValueError(f"first_pits must be a non-empty subset of {FIRST_PIT_DEFINITIONS}")
        if self.chosen not in ("self", "teacher"):
            raise ValueError(f"chosen must be 'self' or 'teacher', got {self.chosen!r}")
        if self.negatives_per_problem < 1 or self.awr_beta <= 0 or not 0 <= self.filter_drop < 1:
            raise ValueError("need negatives_per_problem >= 1, awr_beta > 0 and 0 <= filter_drop < 1")
        if self.q_traces < 0 or self.steps_multiple < 1:
            raise ValueError(f"need q_traces >= 0 and steps_multiple >= 1, got {self.q_traces} and "
                             f"{self.steps_multiple}")
        if self.grpo_generations < 2 or self.grpo_epochs <= 0:
            raise ValueError("GRPO needs grpo_generations >= 2 (a group) and grpo_epochs > 0")


@dataclass(frozen=True)
class SpuriousConfig:
    """RFT's spurious correlations (Figs. 2c, 4; `synthrl.studies.rft_spurious`) on one size of the
    positive-scaling cells: pi_sft's distinct positives per problem grown from 1 to 16, each sample's
    steps labelled exactly. Every definition here is fixed before the study's first run."""

    # One size of the scaling range. Our choice, set by the time limit: at 128 problems the
    # study was estimated at about 12 minutes on 2 cores, at 256 (the regime's middle size) about 25
    size: int = 128
    seeds: tuple[int, ...] = ()  # empty: the scaling study's
    samples: int = 32  # pi_sft's samples per problem at the preset's temperature (up to 32 here)
    counts: tuple[int, ...] = (1, 2, 4, 8, 16)  # distinct positives per problem in D+ (Fig. 2c's axis)
    # Fig. 2c's claim compares RFT at the largest count with RFT at this one: the preset's own D+
    # (`SampleConfig.positives_per_problem`, 4), not a count picked by its result
    reference_count: int = 4
    spurious_labels: tuple[str, ...] = ("wrong", "irrelevant")  # the paper: "wrong or irrelevant" steps
    # Fig. 4's cleaning by estimated advantages: drop a positive with a step whose advantage is below this.
    # Our choice (the paper gives no number): a fall of 0.2 in Q_BoK is more than 8 rollouts' noise at
    # most prefixes of a solved problem, where Q_BoK is near 1
    advantage_threshold: float = -0.2
    credit: CreditConfig = field(default_factory=lambda: CreditConfig(n_rollouts=8))  # as the negative study's
    fig4_cap: int = 0  # Fig. 4's arms at most this many rows each (0: the smallest pool decides)

    def __post_init__(self) -> None:
        if self.size < 1 or self.samples < 1 or not self.counts or min(self.counts) < 1:
            raise ValueError("need size >= 1, samples >= 1 and counts >= 1")
        if self.reference_count not in self.counts or self.reference_count == max(self.counts):
            raise ValueError(f"reference_count must be one of counts {self.counts} below the largest")
        if not set(self.spurious_labels) <= {"wrong", "irrelevant"} or not self.spurious_labels:
            raise ValueError(f"spurious_labels must be among 'wrong', 'irrelevant'; got {self.spurious_labels}")
        if self.fig4_cap < 0:
            raise ValueError(f"fig4_cap must be >= 0, got {self.fig4_cap}")


@dataclass(frozen=True)
class StarConfig:
    """The star-graph study (Fig. 8): SFT from scratch on G(d, l, N) with checkpoints along
    training, then per-step DPO from chosen checkpoints against continued SFT."""

    # Our choice, measured on 2 cores: with N = 50 (B&N's G(2,5,50)) the cpu model had not learned
    # even the edge lookup after 3,500 SFT iterations (other path tokens 59% right); with N = 20 the
    # shortcut was there after 500 (others 99%, the critical token 53%).
    graph: StarGraphConfig = field(default_factory=lambda: StarGraphConfig(2, 5, 20))
    # Our choice (B&N: 200k). Measured: with 2,000 graphs SFT memorized the critical token (train
    # 96%, test 41% at iteration 1,500) before the shortcut was complete; with 20,000 it had the
    # shortcut by 500 but memorized little by 3,000 (train 56%). 5,000 sits between: the shortcut
    # first, then memorization, so the late checkpoint is over-trained.
    n_train: int = 5000
    n_test: int = 500  # our choice (B&N: 20k)
    model: ModelConfig = field(default_factory=lambda: ModelConfig(
        hidden_size=128, n_layers=4, n_heads=4, intermediate_size=384, max_positions=64))  # our choice
    # SFT at a constant learning rate after warmup (our choice): then SFT's own later checkpoints
    # are "continued SFT" from any earlier one, the baseline per-step DPO is compared with.
    sft: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1.0, batch_size=32, lr=1e-3,
                                                                 warmup_ratio=0.02, max_steps=3000))
    checkpoints: tuple[int, ...] = (0, 100, 200, 300, 500, 750, 1000, 1500, 2000, 2500, 3000)  # SFT iterations
    dpo_from: tuple[int, ...] = (500, 750, 1000)  # under-trained starts (the paper: iteration 60 of its run)
    dpo_from_over: int | None = 3000  # an over-trained start (Fig. 8c); None: none
    # per-step DPO as the committed star-graph run trained it: a constant rate, no warmup, no clipping
    # (the hardened trainer's defaults are tried by the star probes, `synthrl.probes.star`)
    dpo: PreferenceConfig = field(default_factory=lambda: PreferenceConfig(
        lr=5e-4, batch_size=32, max_steps=600, warmup_ratio=0.0, lr_scheduler="constant", max_grad_norm=None))
    dpo_eval_every: int = 50  # evaluate per-step DPO every this many steps
    negatives_per_graph: int = 4  # samples of the start checkpoint per training graph, at temperature 1
    # rollouts from the start node (Q of the critical token), and per prefix where pits are estimated (our choice)
    q_rollouts: int = 8
    n_eval_train: int = 300  # training graphs scored at each checkpoint (memorization)
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.checkpoints or min(self.checkpoints) < 0 or max(self.checkpoints) > self.sft.max_steps:
            raise ValueError(f"checkpoints must lie in 0..{self.sft.max_steps} (sft.max_steps)")
        starts = self.dpo_starts()
        if not set(starts) <= set(self.checkpoints):
            raise ValueError(f"per-step DPO starts {starts} must be SFT checkpoints {self.checkpoints}")
        if self.dpo.max_steps <= 0 or self.dpo_eval_every < 1:
            raise ValueError("need dpo.max_steps > 0 and dpo_eval_every >= 1")

    def dpo_starts(self) -> dict[int, str]:
        """Each SFT checkpoint per-step DPO starts from, with its kind."""
        starts = {s: "under-trained" for s in self.dpo_from}
        if self.dpo_from_over is not None:
            starts[self.dpo_from_over] = "over-trained"
        return starts


@dataclass(frozen=True)
class Preset:
    name: str
    task: str = "arith"  # "arith" (generated), "gsm8k" or "math" (hub or local JSONL)
    # Local files of a hub task, one per split, in the dataset's own format: (("train", path), ("test",
    # path)); empty: the hub. Stand-ins and offline copies (`synthrl.standin.write_gsm8k`).
    data_files: tuple[tuple[str, str], ...] = ()
    world: ArithConfig = field(default_factory=ArithConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    n_train: int = 2000  # |D_syn|: problems with one teacher solution each
    n_test: int = 300
    n_pretrain_docs: int = 6000  # pi_base's corpus (arith only)
    # Fraction of pi_base's problem statements that come with a worked solution in the plain style
    # (arith only). 0: pi_base never saw a solution. Our choice: 1.0, since the paper's base models
    # (DeepSeek-Math-7B, LLaMA-2-7B) have read worked solutions, and Fig. 3 is about that prior. With 0,
    # pi_base put no mass on solutions at all (about 6.3 nats per solution token, worse than uniform).
    pretrain_solved: float = 1.0
    # The worlds pi_base's stories are drawn from, in equal parts (empty: the preset's world), as a
    # math base model has read problems of both GSM8K's and MATH's kinds. Same vocabulary needed.
    pretrain_worlds: tuple[ArithConfig, ...] = ()
    # The style of pi_base's worked solutions: "plain" (one phrasing) or "teacher" (the teacher's
    # varied styles, as a math base model has read solutions written in many ways)
    pretrain_style: str = "plain"
    # Operations whose problems pi_base reads only unsolved (arith only): a skill the base model lacks and
    # D_syn teaches, as the paper's synthetic data teaches its base model what pretraining did not
    pretrain_unsolved_ops: tuple[str, ...] = ()
    pretrain: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=2.0))  # our choice
    sft: TrainConfig = field(default_factory=TrainConfig)
    rft: TrainConfig = field(default_factory=TrainConfig)
    # How long RFT trains: "sft", as many optimizer steps as SFT on the same D_syn (equal compute: the
    # comparison is of the data, and D+ with up to 4 positives per problem would otherwise cost about
    # 2.5x SFT's steps, past the time a study may take on 2 cores), or "epochs", `rft.epochs` passes
    # over D+. The paper does not say; our choice.
    rft_steps: str = "sft"
    # Which of SFT's checkpoints pi_sft is: "last", or "best_dev", the epoch's end (1, 2, ...; never step
    # 0, which is pi_base) with the lowest greedy error on `n_dev` dev problems, drawn apart from D_syn and
    # the test set (early stopping, as a researcher keeps the checkpoint that does best on a validation
    # split). The paper does not say; "last" is our default.
    sft_keep: str = "last"
    n_dev: int = 200  # our choice: a greedy error's standard error of about 0.03
    # Replay (rehearsal): finetuning pi_base (SFT, RFT) also trains on this many of pi_base's own corpus
    # documents per finetuning row, drawn per seed, with the loss on every token as pretraining had; the
    # steps grow with the rows. A standard guard against forgetting (Robins 1995; InstructGPT's PPO-ptx
    # mixes pretraining gradients into RL; Ibrahim et al. 2024 for continued pretraining), which the
    # paper does not use: its 7B base forgets little at 1e-5. 0 (our default): no replay. Arith only.
    finetune_replay: float = 0.0
    sampling: SampleConfig = field(default_factory=SampleConfig)
    credit: CreditConfig = field(default_factory=CreditConfig)
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    star: StarConfig = field(default_factory=StarConfig)
    negative: NegativeConfig = field(default_factory=NegativeConfig)
    spurious: SpuriousConfig = field(default_factory=SpuriousConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rft_steps not in ("sft", "epochs"):
            raise ValueError(f"rft_steps must be 'sft' or 'epochs', got {self.rft_steps!r}")
        if self.finetune_replay < 0:
            raise ValueError(f"finetune_replay is documents per finetuning row, >= 0; got {self.finetune_replay}")
        if self.sft_keep not in ("last", "best_dev") or self.n_dev < 1:
            raise ValueError(f"sft_keep must be 'last' or 'best_dev' and n_dev >= 1, got {self.sft_keep!r}, {self.n_dev}")
        if self.pretrain_style not in ("plain", "teacher"):
            raise ValueError(f"pretrain_style must be 'plain' or 'teacher', got {self.pretrain_style!r}")
        if self.task not in ("arith", "gsm8k", "math"):
            raise ValueError(f"task must be 'arith', 'gsm8k' or 'math', got {self.task!r}")
        if self.n_train < 1 or self.n_test < 1:
            raise ValueError("n_train and n_test must be >= 1")
        if self.data_files and self.task == "arith":
            raise ValueError("data_files are a hub task's local files; the arith world is generated")
        if self.task != "arith" and self.model.pretrained is None:
            raise ValueError(f"task {self.task!r} needs a pretrained model (ModelConfig.pretrained)")


def to_dict(obj) -> dict:
    """A preset or config as plain data, for cache keys and provenance."""
    return dataclasses.asdict(obj)
