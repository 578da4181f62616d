"""D- and the paper's training data built from it (paper.md, Methods): pi_sft's incorrect samples,
per-step preference pairs cut at a first pit (estimated by `credit`, or exact by the world's labels),
naive pairs of whole responses, advantage weights (AWR) and advantage filtering (Fig. 11).

Every function takes plain rows and returns plain rows or indices: a sample row is {uid, prompt,
completion, correct} as `pipeline.samples` writes it; a pair is the preference trainer's {prompt,
chosen, rejected, rejected_is_prefix}. TRL builds no such data: its DPO pairs are whole responses.
`build` makes all of it for a researcher's own model and problems (`python -m synthrl pairs`).
"""
from __future__ import annotations

import random

import numpy as np

from synthrl.credit import TraceCredit, step_prefixes
from synthrl.tasks.arith import first_wrong_step
from synthrl.tasks.base import Problem

NEGATIVES_PER_PROBLEM = 8  # paper: 8 incorrect samples of pi_sft per problem (its practical recipe)
CHOSEN_SOURCES = ("self", "teacher")
AWR_MAX_WEIGHT = 20.0  # Peng et al. 2019 (AWR) clip exp(A / beta) at 20


def distinct_samples(sample_rows: list[dict], correct: bool, per_problem: int) -> list[dict]:
    """Samples with the given correctness, deduplicated per problem (whitespace-insensitive), at most
    `per_problem` each, in sampling order: {uid, prompt, completion}."""
    kept: dict[str, list[str]] = {}
    out = []
    for r in sample_rows:
        if bool(r["correct"]) != correct:
            continue
        norm = " ".join(r["completion"].split())
        seen = kept.setdefault(r["uid"], [])
        if norm in seen or len(seen) >= per_problem:
            continue
        seen.append(norm)
        out.append({"uid": r["uid"], "prompt": r["prompt"], "completion": r["completion"]})
    return out


def d_minus(sample_rows: list[dict], per_problem: int = NEGATIVES_PER_PROBLEM) -> list[dict]:
    """D-: pi_sft's distinct incorrect samples, up to `per_problem` per problem (the paper: 8)."""
    return distinct_samples(sample_rows, correct=False, per_problem=per_problem)


def chosen_by_problem(source: str, d_syn: list[Problem], d_plus: list[dict]) -> dict[str, list[str]]:
    """The correct solutions a pair's chosen side is drawn from, per problem uid.

    "self": pi_sft's own distinct positives (D+); a problem pi_sft never solved has none, and its
    negatives make no pair. "teacher": D_syn's one solution of every problem. The paper says only "a
    correct solution"; the kit's default is "self" (`NegativeConfig.chosen`): the chosen and rejected
    sides then come from one policy, so the pair's contrast is the rejected step and not the
    teacher's style, and Fig. 3 shows pi_sft's own positives are the easier ones to fit.
    """
    if source == "self":
        out: dict[str, list[str]] = {}
        for r in d_plus:
            out.setdefault(r["uid"], []).append(r["completion"])
        return out
    if source == "teacher":
        return {p.uid: [p.solution] for p in d_syn}
    raise ValueError(f"chosen source must be one of {CHOSEN_SOURCES}, got {source!r}")


def pair_row(prompt: str, chosen: str, rejected: str, rejected_is_prefix: bool, **extra) -> dict:
    """One preference pair, the one place every pair the kit trains on is built: TRL's preference format
    (`prompt`, `chosen`, `rejected`), and whether the rejected response is a prefix, which the preference
    trainer (`synthrl.preference`) scores without an end-of-sequence token (TRL's DPOTrainer appends one
    to every response, so it cannot express a cut negative)."""
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected, "rejected_is_prefix": rejected_is_prefix,
            **extra}


def _pick(chosen: dict[str, list[str]], uid: str, j: int) -> str | None:
    """The j-th negative of a problem is paired with its (j mod n)-th positive: every positive is used."""
    options = chosen.get(uid)
    return options[j % len(options)] if options else None


def cut_after(steps: list[str], pit: int) -> str:
    """A negative cut right after its first pit: steps 1..pit+1, each ended by its newline, exactly
    the prefix whose Q was estimated (no end-of-sequence token follows)."""
    if not 0 <= pit < len(steps):
        raise ValueError(f"pit {pit} is not a step of a {len(steps)}-step trace")
    return step_prefixes(steps)[pit + 1]


def per_step_pairs(task, negatives: list[dict], pits: list[int | None],
                   chosen: dict[str, list[str]]) -> list[dict]:
    """The paper's per-step pairs: for each negative with a pit, chosen = a correct solution of its
    problem, rejected = the negative cut after its pit (a prefix). A negative with no pit (its Q
    never falls) or whose problem has no chosen solution makes no pair."""
    if len(negatives) != len(pits):
        raise ValueError(f"{len(negatives)} negatives but {len(pits)} pits")
    pairs, count = [], {}
    for r, pit in zip(negatives, pits):
        j = count[r["uid"]] = count.get(r["uid"], -1) + 1
        positive = _pick(chosen, r["uid"], j)
        if pit is None or positive is None:
            continue
        pairs.append(pair_row(r["prompt"], positive, cut_after(task.split_steps(r["completion"]), pit), True,
                              uid=r["uid"], pit=pit))
    return pairs


def naive_pairs(negatives: list[dict], chosen: dict[str, list[str]]) -> list[dict]:
    """Standard DPO's pairs (Rafailov et al. 2023; Pal et al. 2024): a whole positive against a whole
    negative of the same problem, both ending with EOS."""
    pairs, count = [], {}
    for r in negatives:
        j = count[r["uid"]] = count.get(r["uid"], -1) + 1
        positive = _pick(chosen, r["uid"], j)
        if positive is not None:
            pairs.append(pair_row(r["prompt"], positive, r["completion"], False, uid=r["uid"]))
    return pairs


def estimated_pits(credits: list[TraceCredit], definition: str) -> list[int | None]:
    """Each negative's first pit from its Monte-Carlo Q (`credit.first_pit`, one declared definition)."""
    return [c.first_pit(definition) for c in credits]


def oracle_pits(world, problems: dict[str, Problem], negatives: list[dict]) -> list[int | None]:
    """Each negative's exact first wrong step, from the world's step labels (only a generated world
    can label every step; it shows what Monte-Carlo noise in the pit costs)."""
    return [first_wrong_step(world.label_steps(problems[r["uid"]], r["completion"])) for r in negatives]


def awr_weights(credit: TraceCredit, beta: float, max_weight: float = AWR_MAX_WEIGHT) -> np.ndarray:
    """Advantage-weighted regression's per-step weights exp(A_i / beta) (Peng et al. 2019), clipped at
    `max_weight`: the objective per-step DPO shares its optimum with (the paper's Theorem 6.1)."""
    return advantage_weights(credit.advantages, beta, max_weight)


def advantage_weights(advantages, beta: float, max_weight: float = AWR_MAX_WEIGHT) -> np.ndarray:
    """`awr_weights` of per-step advantages as stored (`build`'s advantages table)."""
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    return np.minimum(np.exp(np.asarray(advantages, dtype=float) / beta), max_weight)


def advantage_filter(credits: list[TraceCredit], drop: float = 0.5) -> list[int]:
    """Advantage-filtered RFT (Fig. 11): the indices of the responses kept after dropping the
    fraction `drop` (the paper: the bottom 50%) with the lowest minimum step advantage. Ties are
    broken by order (the earlier response is dropped first), so exactly floor(drop * n) go."""
    if not 0 <= drop < 1:
        raise ValueError(f"drop must lie in [0, 1), got {drop}")
    worst = [float(c.advantages.min()) if len(c.advantages) else 0.0 for c in credits]
    n_drop = int(drop * len(credits))
    dropped = set(sorted(range(len(credits)), key=lambda i: (worst[i], i))[:n_drop])
    return [i for i in range(len(credits)) if i not in dropped]


def negative_traces(world, d_syn: list[Problem], sampled: list[dict], n: int, seed: int):
    """Up to n incorrect samples of pi_sft, one per problem, each with an exactly labelled wrong
    step (a seeded random choice): the traces credit assignment is validated on (notebook 05)."""
    by_uid = {p.uid: p for p in d_syn}
    rows = [r for r in sampled if not r["correct"]]
    random.Random(seed).shuffle(rows)
    problems, traces, seen = [], [], set()
    for r in rows:
        p = by_uid[r["uid"]]
        if r["uid"] in seen or first_wrong_step(world.label_steps(p, r["completion"])) is None:
            continue
        seen.add(r["uid"])
        problems.append(p)
        traces.append(r["completion"])
        if len(traces) == n:
            break
    return problems, traces


class _ChatPrompts:
    """A task whose prompts are the model's chat template around the question (`PairsConfig.prompt`)."""

    def __init__(self, task, tokenizer, model: str):
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(f"{model}: its tokenizer has no chat template; use prompt 'plain' (the question as "
                             "'Question: ...\\nAnswer:\\n', for a base model) or a model that has one")
        self._task, self._tokenizer = task, tokenizer

    def prompt(self, problem: Problem) -> str:
        return self._tokenizer.apply_chat_template([{"role": "user", "content": problem.question}], tokenize=False,
                                                   add_generation_prompt=True)

    def __getattr__(self, name):
        return getattr(self._task, name)


def _policy(model: str, adapter: str | None) -> str:
    """The checkpoint to sample: the adapter (which names its base) or the model; a mismatch is an error."""
    if adapter is None:
        return str(model)
    import json
    from pathlib import Path

    config = Path(adapter) / "adapter_config.json"
    if not config.exists():
        raise FileNotFoundError(f"{adapter}: no adapter_config.json (not a peft adapter folder)")
    base = json.loads(config.read_text()).get("base_model_name_or_path")
    if base and str(base) != str(model):
        raise ValueError(f"{adapter}: an adapter of {base}, not of {model}")
    return str(adapter)


def _step_rows(prompt: str, credit: TraceCredit, pit: int | None) -> tuple[dict, dict]:
    """A credited trace as step labels (the stepwise format process-reward trainers read: prompt,
    completions as steps, labels; Math-Shepherd's hard label: some rollout from the prefix succeeds)
    and as advantages with their standard errors."""
    q, se = credit.q, credit.q_se
    labels = {"uid": credit.uid, "prompt": prompt, "completions": list(credit.steps),
              "labels": [bool(x > 0) for x in credit.p[1:]], "soft_labels": [float(x) for x in q[1:]]}
    advantages = {"uid": credit.uid, "prompt": prompt, "steps": list(credit.steps), "q": q.tolist(),
                  "q_se": se.tolist(), "advantages": credit.advantages.tolist(),
                  "advantage_se": credit.advantage_se.tolist(), "rollouts": credit.rollouts, "first_pit": pit}
    return labels, advantages


def build(model: str, data: str, out: str, adapter: str | None = None, task: str = "gsm8k",
          cfg=None, backend: str = "auto") -> dict:
    """Per-step data for any Hugging Face model (a hub id or a folder; `adapter`: a peft adapter of it) on
    a JSONL file of problems in GSM8K's ({question, answer}) or MATH's ({problem, solution}) format:
    `cfg.samples_per_problem` samples per problem, each verified by the task's checker; Monte-Carlo Q of
    every step prefix of up to `cfg.negatives_per_problem` distinct negatives per problem, with BoK; and,
    under `out`, as JSONL and as Hugging Face datasets on disk:

    - `per_step_pairs`: TRL's preference format (prompt, chosen, rejected), the rejected a prefix cut
      right after its first pit (`rejected_is_prefix`: trained without an end-of-sequence token), the
      chosen a distinct positive of the same problem; `naive_pairs`: whole responses (TRL's DPO);
    - `step_labels`: the stepwise format (prompt, completions as steps, labels), hard and soft from Q;
    - `advantages`: per step, with standard errors; `samples`: every sample with its verdict;
    - `summary.json`: the counts, problems skipped (all samples right, or all wrong) included.

    Sampling and rollouts are cached stages (`synthrl.cache`): an interrupted run resumes. Returns the summary.
    """
    import json
    from pathlib import Path

    from synthrl.cache import cache_key, cached_dir, checkpoint_id, file_digest
    from synthrl.config import ModelConfig, PairsConfig, to_dict
    from synthrl.credit import estimate_q
    from synthrl.datafiles import atomic_write_text, read_jsonl, write_dataset, write_jsonl
    from synthrl.sampling import SamplingSpec, make_sampler
    from synthrl.streams import KEY as STREAMS
    from synthrl.tasks.hub import HubMathTask

    cfg = cfg or PairsConfig()
    checker = HubMathTask(task, path=data)
    problems = checker.load("train")  # one file: every row is a problem
    policy = _policy(model, adapter)
    sampler = make_sampler(policy, batch_size=cfg.batch_size, backend=backend, progress=True,
                           model_cfg=ModelConfig(pretrained=str(model)))
    world = _ChatPrompts(checker, sampler.tokenizer, model) if cfg.prompt == "chat" else checker
    source = [checkpoint_id(policy), file_digest(Path(data)), task, checker.checker, STREAMS]

    spec = SamplingSpec(n=cfg.samples_per_problem, temperature=cfg.temperature, max_new_tokens=cfg.max_new_tokens,
                        seed=cfg.seed)

    def sample(folder: Path) -> None:
        prompts = [world.prompt(p) for p in problems]
        outs = sampler.sample(prompts, spec)
        write_jsonl(folder / "samples.jsonl", [
            {"uid": p.uid, "prompt": x, "completion": y, "correct": world.is_correct(p, y),
             "answer": world.final_answer(y)} for p, x, ys in zip(problems, prompts, outs) for y in ys])

    key = cache_key("own_samples", *source, cfg.prompt, to_dict(spec))
    sampled = read_jsonl(cached_dir("own_samples", key, sample) / "samples.jsonl")
    no_answer = sum(r["answer"] is None for r in sampled)
    if no_answer > cfg.max_no_answer * len(sampled):
        example = next(r["completion"] for r in sampled if r["answer"] is None)
        raise ValueError(f"the {task} checker read no answer in {no_answer} of {len(sampled)} samples (more than "
                         f"{cfg.max_no_answer:.0%}): the prompt or the checker does not fit {model}. One of them "
                         f"ends: {example[-200:]!r}")

    by_uid = {p.uid: p for p in problems}
    outcomes: dict[str, set[bool]] = {}
    for r in sampled:
        outcomes.setdefault(r["uid"], set()).add(bool(r["correct"]))
    mixed = {u for u, o in outcomes.items() if o == {True, False}}
    of_mixed = [r for r in sampled if r["uid"] in mixed]
    positives = distinct_samples(of_mixed, True, cfg.samples_per_problem)
    negatives = distinct_samples(of_mixed, False, cfg.negatives_per_problem)

    def credit(folder: Path) -> None:
        found = estimate_q(sampler, world, [by_uid[r["uid"]] for r in negatives], [r["completion"] for r in negatives],
                           cfg.n_rollouts, cfg.rollout_temperature, cfg.seed, cfg.max_new_tokens, cfg.bok_k)
        write_jsonl(folder / "credits.jsonl", [vars(c) for c in found])

    key = cache_key("own_credit", key, [r["completion"] for r in negatives], cfg.n_rollouts, cfg.rollout_temperature,
                    cfg.bok_k, cfg.max_new_tokens)
    credits = [TraceCredit(**r) for r in read_jsonl(cached_dir("own_credit", key, credit) / "credits.jsonl")]
    pits = estimated_pits(credits, cfg.first_pit)
    chosen = chosen_by_problem("self", problems, positives)
    steps = [_step_rows(r["prompt"], c, pit) for r, c, pit in zip(negatives, credits, pits)]

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = {"per_step_pairs": per_step_pairs(world, negatives, pits, chosen),
              "naive_pairs": naive_pairs(negatives, chosen), "step_labels": [s[0] for s in steps],
              "advantages": [s[1] for s in steps], "samples": sampled}
    for name, rows in tables.items():
        write_dataset(out, name, rows)
    summary = {"model": str(model), "adapter": adapter, "data": str(data), "task": task, "checker": checker.checker,
               "config": to_dict(cfg), "problems": len(problems), "samples": len(sampled), "no_answer": no_answer,
               "skipped_all_right": sum(o == {True} for o in outcomes.values()),
               "skipped_all_wrong": sum(o == {False} for o in outcomes.values()),
               "negatives_credited": len(negatives), "negatives_without_pit": sum(p is None for p in pits),
               **{name: len(rows) for name, rows in tables.items()}}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1))
    return summary
