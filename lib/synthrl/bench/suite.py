"""`make bench`: training, sampling and rollout throughput on this machine, each against a baseline
measured in the same run, written to `data/results/bench__<preset>.csv` (one measurement a row, with
provenance and the row it is a ratio to) and printed. The README's benchmark table is generated from
that file (`table`).

What it measures: the machine's fp32 and bf16 matmul throughput (the limit), TRL training in
fp32 and under bf16 autocast on the preset's model and on the gpu preset's (~14M parameters), each as
a fraction of that limit (MFU) and against a plain torch loop on the same batches; batched sampling
against one prompt per `generate` call, and under bf16; rollouts from step prefixes by every way the
kit has, against CTranslate2 on the same rollouts; and the decoder's tokens/s against what its linear
layers alone allow at that batch size, with where its time goes (torch.profiler, ops grouped by role).
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from synthrl.config import ModelConfig, TrainConfig
from synthrl.hardware import matmul_gflops, native_bf16
from synthrl.models import build_model, build_tokenizer, load_checkpoint, n_parameters
from synthrl.pipeline import make_task
from synthrl.presets import RECIPE_CANDIDATES, get_preset
from synthrl.results import provenance, save_results
from synthrl.results import table as results_table
from synthrl.sampling import HFSampler, SamplingSpec, count_tokens
from synthrl.train import completion_rows, sft, sft_config

STUDY = "bench"
BENCH_TRAIN_STEPS = 30  # our choice: long enough to amortise TRL's set-up
BENCH_TRAIN_ROUNDS = 2  # our choice: each training row is the faster of 2 interleaved runs
BENCH_PROMPTS = 64
BENCH_ROUNDS = 2  # our choice: rollout timings are the best of 2 interleaved rounds
BENCH_ROLLOUTS = 16  # rollouts per prefix, fixed so that figures compare across presets and commits
BENCH_TRACES = 24  # negatives of pi_sft whose every step prefix is rolled out
# bf16 invariance, stated before measuring (TRL's invariant tests compare loss trajectories the same way):
# each logged training loss under bf16 autocast within this many nats of fp32's at the same step.
BF16_LOSS_TOLERANCE = 0.05
# The ways of rolling out from step prefixes: what the bench prints, and HFSampler's options.
ROLLOUT_WAYS = {
    "naive": ("naive: each rollout re-encodes its prefix (generate), batches by length",
              dict(share_prefix=False, group_by_depth=False)),
    "repeated cache": ("generate from each prefix's key/value cache, repeated for its rollouts",
                       dict(cascade=False, group_by_depth=False)),
    "repeated cache, by depth": ("the same, batches by prefix depth", dict(cascade=False)),
    "cascade": ("cascade decoding: one copy of each prefix, ended groups leave the batch",
                dict(group_by_depth=False)),
    "ours": ("ours: cascade decoding, batches by prefix depth", dict()),
}
CT2 = "CTranslate2"
# The ways compared head to head (with CTranslate2), each at every one of these batch sizes (sequences decoded
# together), so that each is also compared at the size a user tuning it would pick (its fastest): the cpu
# preset's 128, 4x either side, and the negative-data study's rollout batch (1,024); and the preset's own batch
# where it is not among them. The other ways run at the preset's batch.
HEAD_TO_HEAD = ("naive", "ours")
BENCH_BATCHES = (32, 128, 512, 1024)


def _row(part: str, method: str, metric: str, value: float, baseline: str = "", model: str = "",
         precision: str = "", n: int | None = None, rows_decoded: int | None = None) -> dict:
    return {"part": part, "method": method, "metric": metric, "value": float(value), "baseline": baseline,
            "model": model, "precision": precision, "n_problems": n, "rows_decoded": rows_decoded}


# ---- the limit -------------------------------------------------------------------------------------

def measure_limit() -> tuple[list[dict], dict[str, float]]:
    peaks = {"fp32": matmul_gflops(torch.float32), "bf16": matmul_gflops(torch.bfloat16)}
    rows = [_row("limit", "matmul 2048^3", "gflop_per_s", v, precision=p) for p, v in peaks.items()]
    rows.append(_row("limit", "matmul 2048^3", "speedup", peaks["bf16"] / peaks["fp32"],
                     baseline="matmul 2048^3 fp32", precision="bf16"))
    return rows, peaks


# ---- training --------------------------------------------------------------------------------------

@dataclass
class _Training:
    tokens_per_s: float
    losses: list[float]
    parameters: int


def _trl(model_cfg: ModelConfig, tokenizer, rows: list[dict], cfg: TrainConfig, bf16: bool) -> _Training:
    model = build_model(model_cfg, tokenizer, seed=0)
    trained = sft(model, tokenizer, rows, cfg, dataclasses.replace(model_cfg, cpu_bf16=bf16))
    return _Training(trained.tokens / trained.wall_s, [loss for _, loss in trained.losses], n_parameters(model))


def training_inputs(preset_name: str, steps: int = BENCH_TRAIN_STEPS):
    """The bench's training inputs: the preset, a tokenizer of its world, rows of `steps` batches of its
    SFT batch size (fixed problems) and a one-epoch config of its SFT rate stopping after `steps`."""
    preset = get_preset(preset_name)
    task = make_task(preset)
    problems = task.make_problems("train", preset.sft.batch_size * steps, seed=123)
    tokenizer = build_tokenizer(task.vocabulary())
    rows = completion_rows([task.prompt(p) for p in problems], [p.solution for p in problems])
    cfg = TrainConfig(epochs=1, max_steps=steps, batch_size=preset.sft.batch_size, lr=preset.sft.lr)
    return preset, tokenizer, rows, cfg


def trl_batches(model, tokenizer, rows: list[dict], cfg: TrainConfig, model_cfg: ModelConfig) -> list[dict]:
    """The first `cfg.max_steps` batches TRL's own data loader gives `model` on `rows`."""
    from datasets import Dataset
    from trl import SFTTrainer

    with tempfile.TemporaryDirectory(prefix="synthrl-bench-") as out:
        args = sft_config(cfg, model_cfg, 0, out, model_cfg.max_positions)
        trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
        return [b for _, b in zip(range(cfg.max_steps), trainer.get_train_dataloader())]


def _plain_loop(model_cfg: ModelConfig, tokenizer, rows: list[dict], cfg: TrainConfig) -> float:
    """Tokens/s of a bare torch loop (AdamW, clipping, no schedule) on the batches TRL's own data
    loader gives, timed over the steps alone: what TRL's step costs beyond the model."""
    model = build_model(model_cfg, tokenizer, seed=0)
    batches = trl_batches(model, tokenizer, rows, cfg, model_cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()
    start = time.perf_counter()
    for batch in batches:
        loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
    wall = time.perf_counter() - start
    return sum(int(b["attention_mask"].sum()) for b in batches) / wall


def measure_training(preset_name: str, peaks: dict[str, float]) -> list[dict]:
    preset, tokenizer, rows, cfg = training_inputs(preset_name)
    models = {f"{preset_name} preset": preset.model, "gpu preset's shape": get_preset("gpu").model}
    precisions = ["fp32", "bf16"]
    runs: dict[tuple[str, str], _Training] = {}
    plain: dict[str, float] = {}
    recipes: dict[str, _Training] = {}
    for _ in range(BENCH_TRAIN_ROUNDS):  # interleaved rounds, each row keeps its fastest
        for name, model_cfg in models.items():
            for precision in precisions:
                run = _trl(model_cfg, tokenizer, rows, cfg, bf16=precision == "bf16")
                best = runs.get((name, precision))
                if best is None or run.tokens_per_s > best.tokens_per_s:
                    runs[name, precision] = run
            if name.startswith(preset_name):
                plain[name] = max(plain.get(name, 0.0), _plain_loop(model_cfg, tokenizer, rows, cfg))
                for recipe, fields in RECIPE_CANDIDATES.items():
                    run = _trl(model_cfg, tokenizer, rows, dataclasses.replace(cfg, **fields), bf16=False)
                    if recipe not in recipes or run.tokens_per_s > recipes[recipe].tokens_per_s:
                        recipes[recipe] = run
    out = [row for recipe, run in recipes.items()
           for row in _recipe_rows(recipe, run, runs[f"{preset_name} preset", "fp32"], peaks, preset_name)]
    for (name, precision), run in runs.items():
        label = f"{run.parameters / 1e6:.2f}M, {name}"
        flops = 6 * run.parameters * run.tokens_per_s / 1e9  # 6 N per token (forward + backward)
        trl = "TRL SFTTrainer"
        out += [_row("training", trl, "tokens_per_s", run.tokens_per_s, model=label, precision=precision),
                _row("training", trl, "model_gflop_per_s", flops, model=label, precision=precision)]
        out += [_row("training", trl, f"mfu_{p}", flops / peak, baseline=f"matmul 2048^3 {p}", model=label,
                     precision=precision) for p, peak in peaks.items()]
        if precision == "bf16":
            fp32 = runs[name, "fp32"]
            out += [_row("training", trl, "speedup", run.tokens_per_s / fp32.tokens_per_s,
                         baseline=f"{trl} fp32", model=label, precision=precision),
                    _row("training", trl, "max_loss_gap", np.abs(np.subtract(run.losses, fp32.losses)).max(),
                         baseline=f"{trl} fp32", model=label, precision=precision)]
        if precision == "fp32" and name in plain:
            out += [_row("training", "plain torch loop", "tokens_per_s", plain[name], model=label, precision="fp32"),
                    _row("training", trl, "speedup", run.tokens_per_s / plain[name], baseline="plain torch loop",
                         model=label, precision="fp32")]
    return out


def _recipe_rows(name: str, recipe: _Training, trl: _Training, peaks: dict[str, float],
                 preset_name: str) -> list[dict]:
    """A candidate training recipe (`presets.RECIPE_CANDIDATES`) on the preset's model against TRL's
    defaults in fp32, measured in the same rounds."""
    method, label = f"recipe: {name}", f"{recipe.parameters / 1e6:.2f}M, {preset_name} preset"
    flops = 6 * recipe.parameters * recipe.tokens_per_s / 1e9
    rows = [_row("training", method, "tokens_per_s", recipe.tokens_per_s, model=label, precision="bf16"),
            _row("training", method, "model_gflop_per_s", flops, model=label, precision="bf16"),
            _row("training", method, "speedup", recipe.tokens_per_s / trl.tokens_per_s,
                 baseline="TRL SFTTrainer fp32", model=label, precision="bf16")]
    return rows + [_row("training", method, f"mfu_{p}", flops / peak, baseline=f"matmul 2048^3 {p}", model=label,
                        precision="bf16") for p, peak in peaks.items()]


# ---- sampling --------------------------------------------------------------------------------------

def measure_sampling(preset_name: str, model, tokenizer) -> list[dict]:
    """Greedy decoding of test prompts by pi_sft: batched against one prompt per call (both decode the
    same tokens, and the bench checks it), and batched under bf16 autocast."""
    preset = get_preset(preset_name)
    task = make_task(preset)
    prompts = [task.prompt(p) for p in task.make_problems("test", BENCH_PROMPTS, seed=123)]
    spec = SamplingSpec(n=1, temperature=0.0, max_new_tokens=preset.sampling.max_new_tokens)
    sampler = HFSampler(model, tokenizer, batch_size=preset.sampling.batch_size)

    def timed(run):
        start = time.perf_counter()
        out = run()
        return out, time.perf_counter() - start

    batched, t_batched = timed(lambda: sampler.sample(prompts, spec))
    naive, t_naive = timed(lambda: [sampler.sample([p], spec)[0] for p in prompts])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16, t_bf16 = timed(lambda: sampler.sample(prompts, spec))
    tokens = sum(count_tokens(tokenizer, [s[0] for s in batched], spec.max_new_tokens))
    n, batched_name = len(prompts), "batched generate, greedy"
    return [
        _row("sampling", batched_name, "tokens_per_s", tokens / t_batched, precision="fp32", n=n),
        _row("sampling", "one prompt per generate call", "tokens_per_s", tokens / t_naive, precision="fp32", n=n),
        _row("sampling", batched_name, "speedup", t_naive / t_batched, baseline="one prompt per generate call",
             precision="fp32", n=n),
        _row("sampling", batched_name, "same_outputs", batched == naive, baseline="one prompt per generate call",
             precision="fp32", n=n),
        _row("sampling", batched_name, "speedup", t_batched / t_bf16, baseline=f"{batched_name} fp32",
             precision="bf16", n=n),
        _row("sampling", batched_name, "same_outputs", np.mean([a == b for a, b in zip(bf16, batched)]),
             baseline=f"{batched_name} fp32", precision="bf16", n=n),
    ]


# ---- rollouts --------------------------------------------------------------------------------------

class Timed:
    """A Sampler that times its inner sampler's `sample` calls."""

    def __init__(self, sampler):
        self.sampler, self.tokenizer, self.seconds = sampler, sampler.tokenizer, 0.0

    def sample(self, prompts, spec, prefixes=None):
        start = time.perf_counter()
        out = self.sampler.sample(prompts, spec, prefixes)
        self.seconds += time.perf_counter() - start
        return out


def _ct2_rounds(model_dir: str, checkpoint: str, batches: tuple[int, ...], threads: int, prompts, spec, prefixes,
                rounds: int) -> dict[int, tuple[float, list]]:
    """In a process of its own (see `synthrl.bench.ct2`): CTranslate2 at each batch size, rounds interleaving the
    sizes; per size, the fastest round and the last round's outputs."""
    from synthrl.bench.ct2 import CT2Sampler

    torch.set_num_threads(threads)
    _, tokenizer = load_checkpoint(checkpoint)
    found: dict[int, tuple[float, list]] = {}
    for _ in range(rounds):
        for batch in batches:
            sampler = CT2Sampler(model_dir, tokenizer, batch_size=batch, threads=threads)
            start = time.perf_counter()
            out = sampler.sample(prompts, spec, prefixes)
            found[batch] = (min(time.perf_counter() - start, found.get(batch, (float("inf"),))[0]), out)
    return found


class _Replay:
    """A Sampler that answers with continuations decoded elsewhere (CTranslate2's, in its own process)
    for the very inputs it was given. Made without outputs, it records the inputs of its one call."""

    def __init__(self, tokenizer, outputs: list | None = None):
        self.tokenizer, self.outputs, self.inputs = tokenizer, outputs, None

    def sample(self, prompts, spec, prefixes=None):
        if self.outputs is None:  # recording: blank continuations, whose scores are thrown away
            self.inputs = (prompts, spec, prefixes)
            return [[""] * spec.n for _ in prompts]
        return self.outputs


def _ct2_rollouts(checkpoint, tokenizer, batches: tuple[int, ...], rollouts) -> dict[int, tuple[float, list]]:
    """CTranslate2's rollouts at each batch size: `rollouts(sampler)` (estimate_q on the bench's traces)
    records its sampler call, which CTranslate2 decodes in a spawned process (both bundle an OpenMP runtime:
    in one process ours ran slower after CTranslate2 had), then replays each size's outputs. Per size:
    the best round's seconds and the credits."""
    from synthrl.bench.ct2 import convert

    recorder = _Replay(tokenizer)
    rollouts(recorder)
    with tempfile.TemporaryDirectory(prefix="synthrl-ct2-") as folder:
        args = (str(convert(checkpoint, folder)), str(checkpoint), batches, torch.get_num_threads(),
                *recorder.inputs, BENCH_ROUNDS)
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            found = pool.submit(_ct2_rounds, *args).result()
    return {batch: (seconds, rollouts(_Replay(tokenizer, out))) for batch, (seconds, out) in found.items()}


def ct2_available() -> bool:
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        return False
    return True


def _linear_floor(model, rows: int, repeats: int = 20) -> float:
    """Seconds for one decoding step's linear layers alone (every nn.Linear of the model, the LM head
    included) on `rows` tokens: the floor under any decoder of this model at that batch size."""
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    inputs = [torch.randn(rows, m.in_features) for m in linears]
    best = float("inf")
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            for m, x in zip(linears, inputs):
                m(x)
            best = min(best, time.perf_counter() - start)
    return best


# Where the decoder's time goes: torch ops grouped by role (self CPU time under torch.profiler)
OP_GROUPS = {
    "linear layers": ("aten::mm", "aten::addmm"),
    "attention matmuls and softmax": ("aten::bmm", "aten::_softmax", "aten::_scaled_dot_product"),
    "copies (cache writes, concatenation, indexing)": ("aten::copy_", "aten::cat", "aten::index", "aten::_to_copy",
                                                        "aten::clone"),
    "elementwise (norms, rotary, activation)": ("aten::mul", "aten::add", "aten::pow", "aten::mean", "aten::rsqrt",
                                                "aten::silu", "aten::neg", "aten::div", "aten::sum"),
    "sampling": ("aten::exponential_", "aten::multinomial", "aten::argmax", "aten::searchsorted", "aten::cumsum",
                 "aten::bitwise_xor", "aten::bitwise_and", "aten::__rshift__"),
}


def _profile(sampler_run) -> list[tuple[str, float]]:
    """Shares of the profiled wall time: each op group's self CPU time, other ops (views, reshapes...),
    and what no op accounts for (Python, the framework, the profiler's own cost)."""
    from torch.profiler import ProfilerActivity, profile

    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        sampler_run()
    wall = time.perf_counter() - start
    seconds = {name: 0.0 for name in (*OP_GROUPS, "other ops")}
    for event in prof.key_averages():
        group = next((g for g, ops in OP_GROUPS.items() if event.key.startswith(ops)), "other ops")
        seconds[group] += event.self_cpu_time_total / 1e6
    seconds["outside ops (Python, framework, profiler)"] = max(0.0, wall - sum(seconds.values()))
    return [(name, t / wall) for name, t in seconds.items()]


def rollout_inputs(preset_name: str):
    """The bench's rollout inputs: the preset, its world, the cached pi_sft (trained first if missing, as
    `make demo` does) and BENCH_TRACES of its negatives with their problems."""
    from synthrl import pipeline
    from synthrl.pairs import negative_traces

    preset = get_preset(preset_name)
    world = make_task(preset)
    d_syn = pipeline.d_syn(preset)
    checkpoint = pipeline.pi_sft(preset, pipeline.pi_base(preset), d_syn)
    problems, traces = negative_traces(world, d_syn, pipeline.samples(preset, checkpoint, d_syn), BENCH_TRACES, seed=1)
    return preset, world, checkpoint, problems, traces


def measure_rollouts(preset_name: str, with_ct2: bool = True) -> list[dict]:
    """Rollouts from every step prefix of pi_sft's negatives, each way of the kit (and CTranslate2),
    same traces, same rollouts per prefix, temperature, maximum tokens and stopping (the end-of-sequence
    token). The head-to-head ways run at every size of BENCH_BATCHES, the others at the preset's batch.
    Uses the cached pi_sft of the preset (trained first if missing, as `make demo` does)."""
    from synthrl.credit import estimate_q

    preset, world, checkpoint, problems, traces = rollout_inputs(preset_name)
    model, tokenizer = load_checkpoint(checkpoint)
    n, batch, max_new = BENCH_ROLLOUTS, preset.sampling.batch_size, preset.sampling.max_new_tokens

    def rollouts(sampler):
        return estimate_q(sampler, world, problems, traces, n, seed=0, max_new_tokens=max_new)

    sizes = tuple(sorted({*BENCH_BATCHES, batch}))
    runs = [(way, b) for way in ROLLOUT_WAYS for b in (sizes if way in HEAD_TO_HEAD else (batch,))]
    seconds: dict[tuple[str, int], float] = {}
    found: dict[tuple[str, int], list] = {}
    repeat = True
    # Rounds interleave the runs and each keeps its best time (a shared machine's noise only slows a
    # run down); every round must repeat the first's rollouts exactly (same seed).
    for _ in range(BENCH_ROUNDS):
        for way, b in runs:
            sampler = Timed(HFSampler(model, tokenizer, batch_size=b, **ROLLOUT_WAYS[way][1]))
            credits = rollouts(sampler)
            seconds[way, b] = min(seconds.get((way, b), float("inf")), sampler.seconds)
            if (way, b) in found:
                repeat &= [c.outcomes for c in credits] == [c.outcomes for c in found[way, b]]
            found[way, b] = credits
    if with_ct2 and ct2_available():
        for b, (t, credits) in _ct2_rollouts(checkpoint, tokenizer, sizes, rollouts).items():
            seconds[CT2, b], found[CT2, b] = t, credits
    rows = []
    tokens_per_s: dict[tuple[str, int], float] = {}
    for (way, b), t in seconds.items():
        mean_q = float(np.concatenate([c.q[:-1] for c in found[way, b]]).mean())
        tokens_per_s[way, b] = sum(c.sampled_tokens for c in found[way, b]) / t
        rows += [_row("rollouts", way, metric, value, n=len(traces), rows_decoded=b) for metric, value in
                 (("seconds", t), ("tokens_per_s", tokens_per_s[way, b]), ("mean_q", mean_q))]

    def fastest(way: str) -> int:
        return min((b for w, b in seconds if w == way), key=lambda b: seconds[way, b])

    best = fastest("ours")
    for other in ("naive", CT2):
        if (other, batch) in seconds:  # the same batch size, then each at its fastest
            theirs = fastest(other)
            rows += [_row("rollouts", "ours", "speedup", seconds[other, batch] / seconds["ours", batch],
                          baseline=f"{other} at {batch:,} rows", n=len(traces), rows_decoded=batch),
                     _row("rollouts", "ours", "speedup", seconds[other, theirs] / seconds["ours", best],
                          baseline=f"{other} at its fastest, {theirs:,} rows", n=len(traces), rows_decoded=best)]
    rows += [_row("rollouts", "ours", "rollouts", sum(sum(c.rollouts) for c in found["ours", batch]), n=len(traces)),
             _row("rollouts", "ours", "same_seed_repeats", repeat, n=len(traces))]
    # Where the time goes, and the floor, at the size where ours is fastest.
    ours = HFSampler(model, tokenizer, batch_size=best, **ROLLOUT_WAYS["ours"][1])
    rows += [_row("decoding", f"ours: {group}", "time_share", share, n=len(traces), rows_decoded=best)
             for group, share in _profile(lambda: rollouts(ours))]
    floor = best / _linear_floor(model, best)
    rows += [_row("decoding", f"linear layers alone, {best} rows", "tokens_per_s", floor, n=len(traces),
                  rows_decoded=best),
             _row("decoding", "ours", "fraction_of_floor", tokens_per_s["ours", best] / floor,
                  baseline=f"linear layers alone, {best} rows", n=len(traces), rows_decoded=best)]
    return rows


# ---- the table -------------------------------------------------------------------------------------

def measure(preset_name: str, with_ct2: bool = True) -> pd.DataFrame:
    preset = get_preset(preset_name)
    start = time.perf_counter()
    rows, peaks = measure_limit()
    rows += measure_training(preset_name, peaks)
    rows += measure_sampling(preset_name, *load_checkpoint(rollout_inputs(preset_name)[2]))
    rows += measure_rollouts(preset_name, with_ct2)
    from synthrl.cache import cache_key

    key = cache_key(STUDY, BENCH_TRAIN_STEPS, BENCH_PROMPTS, BENCH_ROLLOUTS, BENCH_TRACES, preset_name)
    rows = [{"study": STUDY, "preset": preset_name, "task": preset.task, "seed": 0, "threads": torch.get_num_threads(),
             "native_bf16": native_bf16(), **r} for r in rows]
    return results_table(rows, provenance(key, time.perf_counter() - start))


def _value(df: pd.DataFrame, **equals) -> float:
    rows = df
    for column, value in equals.items():
        rows = rows[rows[column].fillna("") == value]
    if len(rows) != 1:
        raise KeyError(f"the bench results hold {len(rows)} rows for {equals}, not 1")
    return float(rows["value"].iloc[0])


def table(df: pd.DataFrame) -> pd.DataFrame:
    """The README's benchmark table from a bench results file: what, measured, and the same-run baseline."""
    out = []

    def add(what: str, measured: str, baseline: str = "") -> None:
        out.append({"what": what, "measured": measured, "ratio to (same run)": baseline})

    for p in ("fp32", "bf16"):
        add(f"matmul 2048³, {p}", f"{_value(df, part='limit', metric='gflop_per_s', precision=p):,.0f} GFLOP/s")
    training = df[df.part == "training"]
    for model in dict.fromkeys(training.model.dropna()):
        for p in ("fp32", "bf16"):
            at = dict(part="training", method="TRL SFTTrainer", model=model, precision=p)
            tps = _value(df, metric="tokens_per_s", **at)
            mfu = _value(df, metric=f"mfu_{p}", **at)
            line = f"{tps:,.0f} tokens/s, MFU {mfu:.1%} of {p} matmul"
            if p == "bf16":
                gap = _value(df, metric="max_loss_gap", **at)
                add(f"training {model}, bf16 autocast",
                    f"{line}; losses within {gap:.4f} of fp32's (tolerance {BF16_LOSS_TOLERANCE})",
                    f"**{_value(df, metric='speedup', baseline='TRL SFTTrainer fp32', **at):.2f}×** TRL fp32")
            else:
                add(f"training {model}, fp32 (TRL `SFTTrainer`)", line)
        plain = training[(training.model == model) & (training.method == "plain torch loop")]
        if len(plain):
            trl = _value(df, part="training", metric="speedup", baseline="plain torch loop", model=model)
            add(f"training {model}, plain torch loop on TRL's batches", f"{float(plain.value.iloc[0]):,.0f} tokens/s",
                f"TRL is {trl:.2f}× it")
    for method in dict.fromkeys(training.method[training.method.str.startswith("recipe: ")]):
        at = dict(part="training", method=method, model=training.model[training.method == method].iloc[0],
                  precision="bf16")
        add(f"training {at['model']}, {method} (TRL options)",
            f"{_value(df, metric='tokens_per_s', **at):,.0f} tokens/s, MFU {_value(df, metric='mfu_bf16', **at):.1%} "
            f"of bf16 matmul, {_value(df, metric='mfu_fp32', **at):.1%} of fp32",
            f"**{_value(df, metric='speedup', baseline='TRL SFTTrainer fp32', **at):.2f}×** TRL fp32")
    greedy = dict(part="sampling", method="batched generate, greedy")
    add("sampling: batched generate, greedy, fp32", f"{_value(df, metric='tokens_per_s', **greedy):,.0f} tokens/s",
        f"**{_value(df, metric='speedup', precision='fp32', **greedy):.2f}×** one prompt per call "
        f"(same outputs: {bool(_value(df, metric='same_outputs', precision='fp32', **greedy))})")
    add("sampling: the same under bf16 autocast",
        f"outputs identical to fp32 for {_value(df, metric='same_outputs', precision='bf16', **greedy):.0%} of prompts",
        f"{_value(df, metric='speedup', precision='bf16', **greedy):.2f}× fp32")
    rollouts = df[df.part == "rollouts"]
    same = rollouts[(rollouts.metric == "speedup") & rollouts.baseline.fillna("").str.startswith("naive at ")]
    batch = int(same.rows_decoded.iloc[0])  # the preset's batch: where every way ran
    for way in dict.fromkeys(rollouts[rollouts.metric == "seconds"].method):
        at = dict(part="rollouts", method=way, rows_decoded=batch)
        add(f"rollouts at {batch} rows: "
            f"{ROLLOUT_WAYS[way][0] if way in ROLLOUT_WAYS else way + ' 4.x, fp32, own process'}",
            f"{_value(df, metric='seconds', **at):.1f} s ({_value(df, metric='tokens_per_s', **at):,.0f} tokens/s, "
            f"mean Q {_value(df, metric='mean_q', **at):.3f})")
    for way in dict.fromkeys(rollouts[(rollouts.metric == "seconds") & (rollouts.rows_decoded != batch)].method):
        timed = rollouts[(rollouts.method == way) & (rollouts.metric == "seconds")].sort_values("rows_decoded")
        fastest = int(timed.rows_decoded[timed.value.idxmin()])
        add(f"rollouts, {way}, at each batch size (seconds)",
            "; ".join(f"{int(b):,} rows {t:.1f} s" for b, t in zip(timed.rows_decoded, timed.value)),
            f"fastest at {fastest:,} rows")
    for other in ("naive", CT2):
        for ratio in rollouts[(rollouts.metric == "speedup")
                                   & rollouts.baseline.fillna("").str.startswith(f"{other} at")].itertuples():
            add(f"rollouts: ours ({int(ratio.rows_decoded):,} rows) vs {ratio.baseline}", f"**{ratio.value:.2f}×**")
    floor = df[(df.part == "decoding") & (df.metric == "tokens_per_s")].iloc[0]
    add(f"decoding floor: {floor.method}", f"{floor.value:,.0f} tokens/s",
        f"ours reaches {_value(df, part='decoding', metric='fraction_of_floor'):.0%} of it")
    shares = df[(df.part == "decoding") & (df.metric == "time_share")]
    if len(shares):
        add(f"ours under torch.profiler at {int(shares.rows_decoded.iloc[0]):,} rows: share of its time",
            "; ".join(f"{m.removeprefix('ours: ')} {v:.0%}" for m, v in zip(shares.method, shares.value)))
    return pd.DataFrame(out)


def run_bench(preset_name: str, with_ct2: bool = True) -> int:
    df = measure(preset_name, with_ct2)
    path = save_results(df, STUDY, preset_name)
    first = df.iloc[0]
    print(f"machine: {first.device}, {first.threads} torch threads; commit {first.git_commit}")
    from synthrl.results import markdown

    print("\n".join(markdown(table(df))))
    if not ct2_available():
        print('(CTranslate2 is not installed: `.venv/bin/pip install -e ".[bench]"` adds it)')
    print(f"written: {path} ({first.wall_s:.0f} s)")
    return 0
