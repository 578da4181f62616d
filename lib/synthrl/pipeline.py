"""The pipeline's stages (design.md, "Data flows one way"), each cached under the run directory:

    task -> D_syn -> pi_base -> SFT -> pi_sft -> sample -> verify -> D+ -> RFT -> evaluate

Each function takes values and returns values (problems, rows, a checkpoint path, metrics); a
stage whose output is already cached is not run again, so an interrupted run resumes.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import random
from pathlib import Path
from typing import NamedTuple

from synthrl import streams
from synthrl.cache import cache_key, cached_dir, checkpoint_id
from synthrl.config import ModelConfig, Preset, TrainConfig, to_dict
from synthrl.datafiles import read_jsonl, write_jsonl
from synthrl.evaluate import greedy_outputs, test_error
from synthrl.sampling import SamplingSpec, make_sampler
from synthrl.tasks.base import Problem


def make_task(preset: Preset):
    if preset.task == "arith":
        from synthrl.tasks.arith import ArithWorld

        return ArithWorld(preset.world)
    from synthrl.tasks.hub import HubMathTask

    return HubMathTask(preset.task, files=dict(preset.data_files))


def _source(preset: Preset) -> list:
    """What a problem set is drawn from, for its cache key: the world, and a hub task's local files by
    their contents (an edited file is a new source)."""
    files = [[split, hashlib.sha256(Path(f).read_bytes()).hexdigest()] for split, f in preset.data_files]
    return [to_dict(preset.world), *([files] if files else [])]


def _problems_stage(stage: str, key: str, make) -> list[Problem]:
    path = cached_dir(stage, key, lambda d: write_jsonl(d / "problems.jsonl", [p.to_dict() for p in make()]))
    return [Problem.from_dict(r) for r in read_jsonl(path / "problems.jsonl", required=("uid", "question"))]


def d_syn(preset: Preset, n: int | None = None, seed: int | None = None) -> list[Problem]:
    """D_syn: n training problems with one capable-model (teacher) solution each."""
    n = preset.n_train if n is None else n
    seed = preset.seed if seed is None else seed
    task = make_task(preset)
    key = cache_key("d_syn", preset.task, *_source(preset), n, seed)
    return _problems_stage("d_syn", key, lambda: task.make_problems("train", n, seed))


def d_syn_written(preset: Preset, writer: str, seeds: list[Problem], cfg) -> list[Problem]:
    """D_syn written by a capable model (`synthrl.synthesis`, a `SynthesisConfig`): new problems like
    `seeds` with one solution each, kept where the writer's k solutions agree on the answer. Every
    candidate, kept or dropped and why, is recorded beside them (record.jsonl)."""
    from synthrl.synthesis import synthesize

    task = make_task(preset)

    def build(folder: Path) -> None:
        sampler = make_sampler(writer, batch_size=preset.sampling.batch_size, model_cfg=preset.model)
        kept, record = synthesize(task, sampler, seeds, cfg)
        write_jsonl(folder / "problems.jsonl", [p.to_dict() for p in kept])
        write_jsonl(folder / "record.jsonl", record)

    key = cache_key("d_syn_written", checkpoint_id(writer), preset.task, [p.to_dict() for p in seeds], to_dict(cfg),
                    streams.KEY, task.checker)
    path = cached_dir("d_syn_written", key, build)
    return [Problem.from_dict(r) for r in read_jsonl(path / "problems.jsonl", required=("uid", "question"))]


def test_problems(preset: Preset) -> list[Problem]:
    """The held-out split (fixed seed 0: every run of a preset is scored on the same problems)."""
    task = make_task(preset)
    key = cache_key("test", preset.task, *_source(preset), preset.n_test)
    return _problems_stage("test", key, lambda: task.make_problems("test", preset.n_test, 0))


def dev_problems(preset: Preset) -> list[Problem]:
    """Problems to choose a checkpoint on, never trained or tested on: for a generated world, problems of
    the held-out region drawn with another seed (1), the test problems removed. Real datasets have no
    dev split here yet (a hub task raises)."""
    if preset.task != "arith":
        raise NotImplementedError(f"a dev split of {preset.task!r} (sft_keep='best_dev') is not built yet")
    task = make_task(preset)
    test = {p.question for p in test_problems(preset)}

    def make() -> list[Problem]:  # n_test + n_dev distinct problems hold n_dev outside the test set
        return [p for p in task.make_problems("test", preset.n_test + preset.n_dev, 1)
                if p.question not in test][:preset.n_dev]

    key = cache_key("dev", preset.task, *_source(preset), preset.n_test, preset.n_dev)
    return _problems_stage("dev", key, make)


def _tokenizer(preset: Preset):
    from synthrl.models import build_tokenizer

    return build_tokenizer(make_task(preset).vocabulary())


def _save_trained(model, tokenizer, folder: Path, losses, wall_s: float, tokens: int = 0, **extra) -> None:
    """A trained model's checkpoint and its train_log.json: losses, tokens seen, wall time, and any
    extra record (the preference trainer's per-step diagnostics)."""
    from synthrl.models import save_checkpoint

    save_checkpoint(model, tokenizer, folder)
    (folder / "train_log.json").write_text(json.dumps(
        {"losses": losses, "tokens": tokens, "wall_s": wall_s, **extra}))


def pi_base(preset: Preset) -> str:
    """pi_base: a pretrained model's id, or for arith a small Llama pretrained from scratch on the
    world's arithmetic and problem statements, a fraction `pretrain_solved` of them with a worked
    solution in one plain style (the teacher writing D_syn uses five)."""
    if preset.model.pretrained is not None:
        return preset.model.pretrained
    from synthrl.models import build_model
    from synthrl.train import sft

    def build(folder: Path) -> None:
        tokenizer = _tokenizer(preset)
        model = build_model(preset.model, tokenizer, seed=preset.seed)
        rows = [{"text": t} for t in pretrain_corpus(preset)]
        result = sft(model, tokenizer, rows, preset.pretrain, full_weights(preset.model), preset.seed,
                     desc="pretraining pi_base")
        _save_trained(result.model, tokenizer, folder, result.losses, result.wall_s, result.tokens)

    from synthrl.shipped import copy_checkpoint, shipped_pi_base

    key = pi_base_key(preset)
    shipped = shipped_pi_base(preset.name, key)
    if shipped is not None:  # built once by `make pi-base` and shipped, as a base model comes from a hub
        return str(cached_dir("pi_base", key, lambda folder: copy_checkpoint(shipped, folder)))
    return str(cached_dir("pi_base", key, build))


def pretrain_corpus(preset: Preset) -> list[str]:
    """pi_base's corpus (arith): `n_pretrain_docs` documents drawn in equal parts from `pretrain_worlds`."""
    vocabulary = make_task(preset).vocabulary()
    worlds = preset.pretrain_worlds or (preset.world,)
    if any(make_task(dataclasses.replace(preset, world=w)).vocabulary() != vocabulary for w in worlds):
        raise ValueError("pretrain_worlds must have the world's vocabulary (the same max_value)")
    return list(_corpus(worlds, preset.n_pretrain_docs // len(worlds), preset.seed, preset.pretrain_solved,
                        preset.pretrain_style, preset.pretrain_unsolved_ops))


@functools.lru_cache(maxsize=2)  # 30,000 documents take seconds to write; replay draws from them per run
def _corpus(worlds: tuple, n: int, seed: int, solved: float, style: str, unsolved_ops: tuple) -> tuple[str, ...]:
    from synthrl.tasks.arith import ArithWorld

    return tuple(t for i, w in enumerate(worlds)
                 for t in ArithWorld(w).pretrain_corpus(n, seed + i, solved, style, unsolved_ops))


def replay_rows(preset: Preset, n_rows: int, seed: int) -> list[dict]:
    """Replay for a finetuning run of n_rows rows (`Preset.finetune_replay`): round(replay * n_rows) of
    pi_base's own documents, drawn without replacement by the run's seed, as prompt-completion rows with
    an empty prompt, so that the loss falls on every token as in pretraining."""
    k = round(preset.finetune_replay * n_rows)
    if k == 0:
        return []
    if preset.task != "arith" or preset.model.pretrained is not None:
        raise NotImplementedError("replay needs pi_base's corpus: only a from-scratch arith pi_base has one here")
    corpus = pretrain_corpus(preset)
    drawn = random.Random(f"replay/{seed}").sample(corpus, min(k, len(corpus)))
    return [{"prompt": "", "completion": doc} for doc in drawn]


def full_weights(model_cfg):
    """The model config of pretraining from scratch: every weight trained (LoRA is for finetuning)."""
    return dataclasses.replace(model_cfg, lora_r=0, lora_alpha=ModelConfig.lora_alpha,
                               lora_dropout=ModelConfig.lora_dropout)


def pi_base_key(preset: Preset) -> str:
    """The cache key of pi_base: everything its pretraining depends on (not finetuning's LoRA)."""
    return cache_key("pi_base", preset.task, to_dict(preset.world), to_dict(full_weights(preset.model)),
                    to_dict(preset.pretrain), preset.n_pretrain_docs, preset.seed, preset.pretrain_solved,
                    [to_dict(w) for w in preset.pretrain_worlds], preset.pretrain_style,
                    list(preset.pretrain_unsolved_ops))


def finetune(preset: Preset, stage: str, base: str, rows: list[dict], seed: int, train_cfg=None) -> str:
    """SFT-style training of `base` on prompt-completion rows (SFT, RFT); returns the checkpoint."""
    from synthrl.models import load_checkpoint
    from synthrl.train import EpochSnapshots, sft

    train_cfg = train_cfg or (preset.sft if stage == "pi_sft" else preset.rft)
    dev = dev_problems(preset) if stage == "pi_sft" and preset.sft_keep == "best_dev" else None
    rows = rows + replay_rows(preset, len(rows), seed)  # none unless Preset.finetune_replay

    def build(folder: Path) -> None:
        model, tokenizer = load_checkpoint(base, preset.model, for_training=True)
        snapshots = EpochSnapshots() if dev else None
        result = sft(model, tokenizer, rows, train_cfg, preset.model, seed, callbacks=(snapshots,) if dev else (),
                     desc={"pi_sft": "SFT", "pi_rft": "RFT"}.get(stage, stage))
        chosen = _best_on_dev(preset, result.model, tokenizer, snapshots.snapshots, dev) if dev else {}
        # (a pretrained model keeps its adapter folder, which names the hub model it adapts)
        _save_trained(_standalone(preset, result.model), tokenizer, folder, result.losses, result.wall_s, result.tokens,
                      **chosen)

    key = cache_key(stage, checkpoint_id(base), rows, to_dict(train_cfg), to_dict(preset.model), seed,
                    preset.sft_keep, [p.uid for p in dev] if dev else [])
    return str(cached_dir(stage, key, build))


def _best_on_dev(preset: Preset, model, tokenizer, snapshots: list, dev: list[Problem]) -> dict:
    """Early stopping: each snapshot's greedy error on the dev problems; the model is left holding the
    first snapshot with the lowest (a later one must be strictly better, as transformers'
    load_best_model_at_end keeps). transformers selects on a teacher-forced metric of its eval loop;
    the paper's quantity is the greedy answer's error, so the candidates are decoded here."""
    from synthrl.train import load_snapshot

    task = make_task(preset)
    sampler = make_sampler("", model, tokenizer, batch_size=preset.sampling.batch_size, backend="hf")  # in memory
    errors = []
    for _, weights in snapshots:
        load_snapshot(model, weights)  # the sampler decodes the model it holds, now with these weights
        outs = greedy_outputs(sampler, task, dev, preset.sampling.max_new_tokens)
        errors.append(test_error(task, dev, outs))
    best = min(range(len(errors)), key=lambda i: (errors[i], i))
    load_snapshot(model, snapshots[best][1])
    return {"dev_errors": [{"step": step, "dev_error": e} for (step, _), e in zip(snapshots, errors)],
            "kept_step": snapshots[best][0]}


def _trainable_copy(preset: Preset, checkpoint: str):
    """A checkpoint loaded to be trained further, and its frozen reference: a second copy for full
    finetuning; None with LoRA, whose new adapters, disabled, are the checkpoint itself; or, for a
    pretrained model's LoRA adapter (the paper's path: pi_sft is an adapter of the hub model), that
    adapter trained further and the policy before its first step as the reference."""
    from synthrl.models import load_checkpoint, lora_config
    from synthrl.preference import POLICY_AT_START

    model, tokenizer = load_checkpoint(checkpoint, preset.model, for_training=True)
    if (Path(checkpoint) / "adapter_config.json").exists():
        return model, POLICY_AT_START, tokenizer
    if preset.model.lora_r > 0:
        from peft import get_peft_model

        return get_peft_model(model, lora_config(preset.model)), None, tokenizer
    return model, load_checkpoint(checkpoint, preset.model)[0], tokenizer


def _standalone(preset: Preset, model):
    """A small from-scratch model's LoRA adapters merged, so that the checkpoint stands alone."""
    return model.merge_and_unload() if preset.model.lora_r > 0 and preset.model.pretrained is None else model


def pi_preference(preset: Preset, sft: str, pairs: list[dict], cfg) -> str:
    """pi_sft trained on preference pairs (DPO, DPOP, per-step DPO) against pi_sft as the frozen
    reference (`synthrl.preference`); its log holds the per-step diagnostics."""
    from synthrl.preference import train_preference

    keys = ("prompt", "chosen", "rejected", "rejected_is_prefix")
    pairs = [{k: p[k] for k in keys} for p in pairs]

    def build(folder: Path) -> None:
        model, reference, tokenizer = _trainable_copy(preset, sft)
        result = train_preference(model, reference, tokenizer, pairs, cfg)
        _save_trained(_standalone(preset, result.model), tokenizer, folder, result.losses, result.wall_s, log=result.log)

    key = cache_key("pi_preference", checkpoint_id(sft), pairs, to_dict(cfg), to_dict(preset.model))
    return str(cached_dir("pi_preference", key, build))


def pi_awr(preset: Preset, sft: str, traces: list[dict], cfg, seed: int) -> str:
    """pi_sft trained by advantage-weighted NLL on traces {prompt, steps, weights} (`synthrl.awr`)."""
    from synthrl.awr import train_awr

    def build(folder: Path) -> None:
        model, _, tokenizer = _trainable_copy(preset, sft)
        result = train_awr(model, tokenizer, traces, cfg, seed)
        _save_trained(_standalone(preset, result.model), tokenizer, folder, result.losses, result.wall_s)

    key = cache_key("pi_awr", checkpoint_id(sft), traces, to_dict(cfg), to_dict(preset.model), seed)
    return str(cached_dir("pi_awr", key, build))


def grpo_steps(epochs: float, n_problems: int) -> int:
    """GRPO's optimizer steps: `epochs` passes over the problems, two problems' groups per step."""
    return max(1, math.ceil(epochs * n_problems / 2))


def pi_grpo(preset: Preset, sft: str, problems: list[Problem], train_cfg, generations: int, epochs: float,
            seed: int) -> str:
    """pi_sft trained by outcome-reward online RL (TRL's GRPO) on D_syn's problems, the verifier's 0/1
    as the reward, sampling at the preset's temperature: `epochs` passes, `generations` per problem."""
    from synthrl.models import load_checkpoint
    from synthrl.train import grpo

    task = make_task(preset)
    by_uid = {p.uid: p for p in problems}
    prompts = [{"prompt": task.prompt(p), "uid": p.uid} for p in problems]
    steps = grpo_steps(epochs, len(problems))

    def reward(completions: list[str], uids: list[str]) -> list[float]:
        return [float(task.is_correct(by_uid[u], c)) for c, u in zip(completions, uids)]

    def build(folder: Path) -> None:
        model, tokenizer = load_checkpoint(sft, preset.model, for_training=True)
        result = grpo(model, tokenizer, prompts, reward, train_cfg, preset.model, seed, generations,
                      preset.sampling.temperature, preset.sampling.max_new_tokens, steps)
        _save_trained(_standalone(preset, result.model), tokenizer, folder, result.losses, result.wall_s, result.tokens)

    key = cache_key("pi_grpo", checkpoint_id(sft), [p.uid for p in problems], to_dict(train_cfg), to_dict(preset.model),
                    generations, steps, preset.sampling.temperature, preset.sampling.max_new_tokens, seed, task.checker)
    return str(cached_dir("pi_grpo", key, build))


def sft_rows(preset: Preset, problems: list[Problem]) -> list[dict]:
    task = make_task(preset)
    return [{"prompt": task.prompt(p), "completion": p.solution} for p in problems]


def pi_sft(preset: Preset, base: str, problems: list[Problem], seed: int | None = None) -> str:
    """pi_sft: pi_base finetuned on D_syn (loss on the solution)."""
    return finetune(preset, "pi_sft", base, sft_rows(preset, problems), preset.seed if seed is None else seed)


def samples(preset: Preset, checkpoint: str, problems: list[Problem], seed: int | None = None,
            progress: bool = True) -> list[dict]:
    """n samples per problem from a policy, each verified: {uid, prompt, completion, correct}."""
    spec = SamplingSpec(n=preset.sampling.n, temperature=preset.sampling.temperature,
                        max_new_tokens=preset.sampling.max_new_tokens,
                        seed=preset.seed if seed is None else seed)
    task = make_task(preset)

    def build(folder: Path) -> None:
        sampler = make_sampler(checkpoint, batch_size=preset.sampling.batch_size, progress=progress,
                               model_cfg=preset.model)
        prompts = [task.prompt(p) for p in problems]
        outs = sampler.sample(prompts, spec)
        rows = [{"uid": p.uid, "prompt": x, "completion": y, "correct": task.is_correct(p, y)}
                for p, x, ys in zip(problems, prompts, outs) for y in ys]
        write_jsonl(folder / "samples.jsonl", rows)

    key = cache_key("samples", checkpoint_id(checkpoint), [p.uid for p in problems], to_dict(spec), streams.KEY,
                    task.checker)
    folder = cached_dir("samples", key, build)
    return read_jsonl(folder / "samples.jsonl", required=("uid", "prompt", "completion", "correct"))


def d_plus(sample_rows: list[dict], positives_per_problem: int) -> list[dict]:
    """D+: correct samples, deduplicated per problem (whitespace-insensitive), at most
    `positives_per_problem` each, in sampling order (RFT, Yuan et al. 2023)."""
    from synthrl.pairs import distinct_samples

    return distinct_samples(sample_rows, correct=True, per_problem=positives_per_problem)


def train_steps(cfg, n_rows: int) -> int:
    """Optimizer steps of a training run on n_rows (transformers: whole batches per epoch, rounded up)."""
    return cfg.max_steps if cfg.max_steps > 0 else math.ceil(cfg.epochs * math.ceil(n_rows / cfg.batch_size))


def pi_rft(preset: Preset, base: str, plus_rows: list[dict], seed: int | None = None,
           n_sft_rows: int | None = None) -> str:
    """RFT: pi_base finetuned on D+ (the paper trains RFT from pi_base, not from pi_sft), for as many
    steps as SFT on `n_sft_rows` D_syn rows (`Preset.rft_steps` "sft") or `rft.epochs` over D+."""
    rows = [{"prompt": r["prompt"], "completion": r["completion"]} for r in plus_rows]
    if preset.rft_steps == "sft" and n_sft_rows is None:
        raise ValueError("rft_steps 'sft': give the number of D_syn rows SFT trained on")
    cfg = rft_config(preset, train_steps(preset.sft, n_sft_rows or 0), preset.rft)
    return finetune(preset, "pi_rft", base, rows, preset.seed if seed is None else seed, cfg)


def rft_config(preset: Preset, sft_steps: int, epochs_cfg) -> TrainConfig:
    """RFT's budget, the one rule every RFT of the kit follows: as many optimizer steps as SFT took on its
    D_syn (`Preset.rft_steps` "sft", the paper's comparison at equal compute), or `epochs_cfg`, its own
    epochs over D+ ("epochs"). Both from `preset.rft`'s other settings."""
    if preset.rft_steps == "sft":
        return dataclasses.replace(preset.rft, max_steps=sft_steps)
    return epochs_cfg


class PositiveRun(NamedTuple):
    d_syn: list[Problem]
    base: str
    sft: str
    sampled: list[dict]  # pi_sft's verified samples on D_syn's problems
    d_plus: list[dict]
    rft: str


def positive_run(preset: Preset) -> PositiveRun:
    """The chain every study starts from: D_syn -> pi_base -> SFT -> samples -> D+ -> RFT."""
    problems = d_syn(preset)
    base = pi_base(preset)
    sft = pi_sft(preset, base, problems)
    sampled = samples(preset, sft, problems)
    plus = d_plus(sampled, preset.sampling.positives_per_problem)
    return PositiveRun(problems, base, sft, sampled, plus, pi_rft(preset, base, plus, n_sft_rows=len(problems)))


def evaluate_checkpoint(preset: Preset, checkpoint: str, problems: list[Problem]) -> dict:
    """Greedy test error of a checkpoint on `problems`, how many outputs state no answer the checker reads
    (`no_answer`: an error rate is never shown without it), the test error under each other reading a
    task has (GSM8K's flexible one: `test_error_flexible`), and each problem's greedy output and whether
    it was solved, in order (cached)."""
    task = make_task(preset)

    def build(folder: Path) -> None:
        sampler = make_sampler(checkpoint, batch_size=preset.sampling.batch_size, model_cfg=preset.model)
        outs = greedy_outputs(sampler, task, problems, preset.sampling.max_new_tokens)
        write_jsonl(folder / "outputs.jsonl", [{"uid": p.uid, "output": y, "correct": task.is_correct(p, y)}
                                               for p, y in zip(problems, outs)])
        metrics = {"test_error": test_error(task, problems, outs),
                   "no_answer": sum(task.final_answer(y) is None for y in outs)}
        for reading in getattr(task, "readings", ())[1:]:  # the first is `is_correct`'s own
            metrics[f"test_error_{reading}"] = sum(not task.is_correct(p, y, reading)
                                                   for p, y in zip(problems, outs)) / len(problems)
        (folder / "metrics.json").write_text(json.dumps(metrics))

    key = cache_key("eval", checkpoint_id(checkpoint), [p.uid for p in problems], preset.sampling.max_new_tokens,
                    task.checker)
    folder = cached_dir("eval", key, build)
    outputs = read_jsonl(folder / "outputs.jsonl", required=("uid", "output", "correct"))
    return {**json.loads((folder / "metrics.json").read_text()), "correct": [bool(r["correct"]) for r in outputs],
            "outputs": [r["output"] for r in outputs]}


def evaluate_pass_at_k(preset: Preset, checkpoint: str, problems: list[Problem], k: int) -> dict:
    """pass@k on `problems` from k samples per problem at the preset's sampling temperature."""
    from synthrl.evaluate import mean_pass_at_k

    task = make_task(preset)
    spec = SamplingSpec(n=k, temperature=preset.sampling.temperature,
                        max_new_tokens=preset.sampling.max_new_tokens, seed=preset.seed)

    def build(folder: Path) -> None:
        sampler = make_sampler(checkpoint, batch_size=preset.sampling.batch_size, model_cfg=preset.model)
        outs = sampler.sample([task.prompt(p) for p in problems], spec)
        (folder / "metrics.json").write_text(json.dumps({f"pass@{k}": mean_pass_at_k(task, problems, outs, k)}))

    key = cache_key("pass_at_k", checkpoint_id(checkpoint), [p.uid for p in problems], to_dict(spec), streams.KEY,
                    task.checker)
    return json.loads((cached_dir("pass_at_k", key, build) / "metrics.json").read_text())


# What a cached credit holds: 2 = each rollout's sampled tokens beside its outcome (the cost in tokens),
# with the rows decoded together in the key (the batch decides the random draws)
CREDIT_FORMAT = 2


def credits(preset: Preset, checkpoint: str, problems: list[Problem], traces: list[str]) -> list:
    """Monte-Carlo credit for every step prefix of each trace, rollouts from `checkpoint` (cached)."""
    from synthrl.credit import TraceCredit, estimate_q

    cfg = preset.credit
    task = make_task(preset)
    rows_decoded = cfg.rollout_batch or preset.sampling.batch_size  # draws do not depend on it (streams)

    def build(folder: Path) -> None:
        if cfg.batch_traces > 0:  # batches on Ray's sampler actors where Ray runs (the same draws as here)
            from synthrl.pool import rollout_batches

            b = cfg.batch_traces
            batches = [(problems[i:i + b], traces[i:i + b], preset.seed) for i in range(0, len(traces), b)]
            kwargs = {"n_rollouts": cfg.n_rollouts, "temperature": cfg.temperature, "k": cfg.k,
                      "max_new_tokens": preset.sampling.max_new_tokens}
            batched = rollout_batches(checkpoint, rows_decoded, task, batches, kwargs, preset.model)
            found = [c for batch in batched for c in batch]
        else:
            sampler = make_sampler(checkpoint, batch_size=rows_decoded, progress=True, model_cfg=preset.model)
            found = estimate_q(sampler, task, problems, traces, cfg.n_rollouts, cfg.temperature, preset.seed,
                               preset.sampling.max_new_tokens, cfg.k)
        write_jsonl(folder / "credits.jsonl", [vars(c) for c in found])

    # how the rollouts are batched (rollout_batch, batch_traces) changes no draw (`synthrl.streams`): not in the key
    draws = {k: v for k, v in to_dict(cfg).items() if k not in ("rollout_batch", "batch_traces")}
    key = cache_key("credit", checkpoint_id(checkpoint), [p.uid for p in problems], traces, draws,
                    preset.seed, preset.sampling.max_new_tokens, CREDIT_FORMAT, streams.KEY, task.checker)
    rows = read_jsonl(cached_dir("credit", key, build) / "credits.jsonl",
                      required=("uid", "steps", "outcomes", "rollout_tokens"))
    return [TraceCredit(**r) for r in rows]


def sampled_tokens(checkpoint: str, texts: list[str], max_new_tokens: int) -> int:
    """Tokens a policy sampled to write `texts` (its samples), counted by its tokenizer as every sampling
    cost in the kit is (`sampling.count_tokens`)."""
    from transformers import AutoTokenizer

    from synthrl.sampling import count_tokens

    return sum(count_tokens(AutoTokenizer.from_pretrained(checkpoint), texts, max_new_tokens))


def train_log(checkpoint: str) -> dict:
    path = Path(checkpoint) / "train_log.json"
    return json.loads(path.read_text()) if path.exists() else {"losses": [], "tokens": 0, "wall_s": 0.0}


def nll_under(preset: Preset, checkpoint: str, rows: list[dict]) -> list[float]:
    """Per-token NLL of each row's completion under `checkpoint` (Fig. 3: D_syn vs D+ under pi_base)."""
    from synthrl.evaluate import completion_nll
    from synthrl.models import load_checkpoint

    def build(folder: Path) -> None:
        model, tokenizer = load_checkpoint(checkpoint, preset.model)
        (folder / "nll.json").write_text(json.dumps(completion_nll(model, tokenizer, rows)))

    key = cache_key("nll", checkpoint_id(checkpoint), rows)
    return json.loads((cached_dir("nll", key, build) / "nll.json").read_text())
