"""The star-graph didactic study (paper Fig. 8) on Bachmann & Nagarajan's path-star task.

SFT (teacher forcing, from scratch) learns the "Clever Hans" shortcut: every path node but the one
after the start follows from the previous node by its single outgoing edge, so only the critical
token carries signal and SFT memorizes it graph by graph. The paper's claim: per-step DPO, whose
rejected side is a sampled path cut right after its first wrong node (the wrong adjacent node),
learns the critical token with a sharp phase transition when it starts from an under-trained SFT
checkpoint, and not from an over-trained one.

One SFT run at a constant learning rate saves checkpoints along training; its later checkpoints
are "continued SFT" from any earlier one. From chosen checkpoints, per-step DPO (reference = that
checkpoint) trains on pairs built from the checkpoint's own samples of the training graphs, and is
evaluated every few steps with the same metrics as SFT's checkpoints.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm
from transformers import TrainerCallback

from synthrl import streams, verdicts
from synthrl.cache import cache_key, cached_dir
from synthrl.config import Preset, StarConfig, to_dict
from synthrl.credit import FIRST_PIT_DEFINITIONS, estimate_q
from synthrl.pairs import pair_row
from synthrl.preference import DIAGNOSTICS, train_preference
from synthrl.presets import get_preset
from synthrl.results import curve, provenance, table
from synthrl.sampling import HFSampler, SamplingSpec
from synthrl.tasks.base import Problem
from synthrl.tasks.stargraph import CRITICAL_INDEX, StarGraphTask, predicted_path

STUDY = "star_graph"
SFT, DPO = "SFT", "per-step DPO"
EVAL_BATCH = 256  # sequences scored or sampled together (our choice)


def task_of(cfg: StarConfig) -> StarGraphTask:
    return StarGraphTask(cfg.graph)


def graphs(cfg: StarConfig) -> tuple[list[Problem], list[Problem]]:
    """The training graphs and the held-out test graphs (disjoint by construction)."""
    task = task_of(cfg)
    return task.make_problems("train", cfg.n_train, cfg.seed), task.make_problems("test", cfg.n_test, 0)


def tokenizer_of(cfg: StarConfig):
    from synthrl.models import build_stargraph_tokenizer

    return build_stargraph_tokenizer(cfg.graph.n_nodes)


class _Snapshots(TrainerCallback):
    """Saves the model (a Hugging Face checkpoint) at chosen global steps, step 0 included."""

    def __init__(self, folder: Path, steps: tuple[int, ...], tokenizer) -> None:
        self.folder, self.steps, self.tokenizer = folder, set(steps), tokenizer

    def _save(self, step: int, model) -> None:
        from synthrl.models import save_checkpoint

        if step in self.steps:
            save_checkpoint(model, self.tokenizer, self.folder / f"step-{step}")

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._save(0, model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self._save(state.global_step, model)


def sft_run(cfg: StarConfig) -> Path:
    """SFT from scratch on the training graphs (loss on the path), checkpoints at
    `cfg.checkpoints`; cached. The folder holds step-<n>/ checkpoints and train_log.json."""
    from synthrl.models import build_model
    from synthrl.train import sft

    def build(folder: Path) -> None:
        task, tok = task_of(cfg), tokenizer_of(cfg)
        train, _ = graphs(cfg)
        model = build_model(cfg.model, tok, seed=cfg.seed)
        rows = [{"prompt": task.prompt(p), "completion": p.solution} for p in train]
        result = sft(model, tok, rows, cfg.sft, cfg.model, cfg.seed, lr_scheduler="constant_with_warmup",
                     callbacks=(_Snapshots(folder, cfg.checkpoints, tok),), desc="SFT on star graphs")
        (folder / "train_log.json").write_text(json.dumps({"losses": result.losses, "wall_s": result.wall_s}))

    key = cache_key("star_sft", to_dict(cfg.graph), cfg.n_train, to_dict(cfg.model), to_dict(cfg.sft),
                    sorted(cfg.checkpoints), cfg.seed)
    return cached_dir("star_sft", key, build)


def load_snapshot(folder: Path, step: int):
    from synthrl.models import default_device, load_checkpoint

    return load_checkpoint(folder / f"step-{step}", device=default_device())


@torch.no_grad()
def teacher_forced(model, tokenizer, task: StarGraphTask, problems: list[Problem]) -> dict:
    """Per graph, with the true path fed in (teacher forcing): whether the critical token is the
    argmax, its probability, the accuracy of the other path tokens, and the NLL per token of the
    path and its end token (SFT's training loss)."""
    from synthrl.preference import batch_ids, encode

    out = {"critical_acc": [], "p_critical": [], "other_acc": [], "nll": []}
    for i in range(0, len(problems), EVAL_BATCH):
        chunk = problems[i:i + EVAL_BATCH]
        encoded = [encode(tokenizer, task.prompt(p), p.solution, add_eos=True) for p in chunk]
        ids, attention, _ = batch_ids([e[0] for e in encoded], [e[1] for e in encoded], tokenizer.pad_token_id)
        device = next(model.parameters()).device
        ids, attention = ids.to(device), attention.to(device)
        logp = torch.log_softmax(model(input_ids=ids, attention_mask=attention).logits[:, :-1].float(), -1)
        target = ids[:, 1:]
        token_logp = logp.gather(2, target[..., None]).squeeze(2)
        hit = logp.argmax(-1) == target
        for b, (seq, n_prompt) in enumerate(encoded):
            pos = torch.arange(n_prompt - 1, len(seq) - 1, device=ids.device)  # predicting path token j at pos[j]
            crit = pos[CRITICAL_INDEX]
            others = torch.cat([pos[:CRITICAL_INDEX], pos[CRITICAL_INDEX + 1:-1]])  # path nodes, not the end
            out["critical_acc"].append(float(hit[b, crit]))
            out["p_critical"].append(float(token_logp[b, crit].exp()))
            out["other_acc"].append(float(hit[b, others].float().mean()))
            out["nll"].append(float(-token_logp[b, pos].mean()))
    return out


def greedy_correct(sampler: HFSampler, task: StarGraphTask, problems: list[Problem]) -> list[bool]:
    spec = SamplingSpec(n=1, temperature=0.0, max_new_tokens=task.config.l + 1)
    outs = sampler.sample([task.prompt(p) for p in problems], spec)
    return [task.is_correct(p, o[0]) for p, o in zip(problems, outs)]


def start_rollouts(sampler: HFSampler, task: StarGraphTask, problems: list[Problem], n: int,
                   seed: int) -> list[list[list[int]]]:
    """n sampled paths (temperature 1) per graph, each continued from the start node: the
    rollouts that estimate the Q-value of the critical token (the policy picks it next)."""
    spec = SamplingSpec(n=n, temperature=1.0, max_new_tokens=task.config.l, seed=seed)
    starts = [str(p.meta["start"]) for p in problems]
    outs = sampler.sample([task.prompt(p) for p in problems], spec, prefixes=starts)
    return [[[p.meta["start"], *predicted_path(o)] for o in outs_p] for p, outs_p in zip(problems, outs)]


def evaluate(model, tokenizer, task: StarGraphTask, train: list[Problem], test: list[Problem], n_rollouts: int,
             seed: int) -> dict[str, float]:
    """Every metric of one model, on training graphs (memorization) and test graphs."""
    sampler = HFSampler(model, tokenizer, batch_size=EVAL_BATCH)
    metrics: dict[str, float] = {}
    for split, problems in (("train", train), ("test", test)):
        scores = teacher_forced(model, tokenizer, task, problems)
        for name, values in scores.items():
            metrics[f"{name}_{split}"] = float(np.mean(values))
        metrics[f"error_{split}"] = 1.0 - float(np.mean(greedy_correct(sampler, task, problems)))
        paths = start_rollouts(sampler, task, problems, n_rollouts, seed)
        metrics[f"q_critical_{split}"] = float(np.mean([[x == p.meta["path"] for x in xs]
                                                        for p, xs in zip(problems, paths)]))
    return metrics


def first_wrong(task: StarGraphTask, problems: list[Problem], paths: list[list[list[int]]]):
    """(problem, sampled nodes, index of the first wrong node) for each distinct incorrect sample. A
    sample that is a strict prefix of the true path has no wrong node (it stopped early) and is left out."""
    for p, samples in zip(problems, paths):
        seen = set()
        for nodes in samples:
            labels = task.label_steps(p, ",".join(map(str, nodes)))
            if "wrong" in labels and tuple(nodes) not in seen:
                seen.add(tuple(nodes))
                yield p, nodes, labels.index("wrong")


class Pitted(NamedTuple):
    """A distinct wrong sample of a graph with the pit its pair is cut at, and the exact first wrong node."""

    problem: Problem
    nodes: list[int]
    pit: int | None  # None where an estimate finds no pit
    exact: int


def estimated_pits(sampler: HFSampler, task: StarGraphTask, found: list[tuple], n_rollouts: int, seed: int,
                   definition: str = "min") -> list[Pitted]:
    """The samples of `first_wrong` with the first pit the paper's recipe finds without labels: Q of every
    prefix of the sample from `n_rollouts` rollouts of the same policy (`credit.estimate_q`, under BoK
    K = 5), the pit by `definition` (`credit.first_pit`: "min" is the paper's), one `Pitted` per sample. A
    prefix that holds a wrong node has Q = 0 exactly, so an estimate lands at the exact pit or before it
    (where every rollout from a right prefix failed), or nowhere (where every rollout from the bare prompt
    failed)."""
    traces = [",".join(map(str, nodes)) for _, nodes, _ in found]
    credits = estimate_q(sampler, task, [p for p, _, _ in found], traces, n_rollouts, seed=seed,
                         max_new_tokens=task.config.l + 1, sep=",")
    return [Pitted(p, nodes, credit.first_pit(definition), exact) for (p, nodes, exact), credit in zip(found, credits)]


def per_step_pairs(task: StarGraphTask, found) -> list[dict]:
    """The paper's per-step pairs from `found` ((problem, sampled nodes, first pit, ...) as `first_wrong`
    yields): chosen = the true path; rejected = the sample cut right after its pit (a prefix, no end token)."""
    return [pair_row(task.prompt(p), p.solution, ",".join(str(x) for x in nodes[:pit + 1]), True, pit=pit, uid=p.uid)
            for p, nodes, pit, *_ in found]


def token_pairs(task: StarGraphTask, found) -> list[dict]:
    """Self-Explore's construction (Hwang et al. 2024) from `found` (as `per_step_pairs`): the path before
    the pit goes into the prompt, and the pair is the right node against the sampled one, a single token
    each (both prefixes, no end token). A path that is wrong only by running past the true one's end has
    no right node to prefer there and makes no pair."""
    return [pair_row(task.prompt(p) + "".join(f"{x}," for x in nodes[:pit]), str(p.meta["path"][pit]), str(nodes[pit]),
                     True, chosen_is_prefix=True, pit=pit, uid=p.uid)
            for p, nodes, pit, *_ in found if pit < len(p.meta["path"])]


PAIR_KINDS = {"cut": per_step_pairs, "token": token_pairs}  # the paper's, Self-Explore's
PITS = ("exact", *FIRST_PIT_DEFINITIONS)  # the exact first wrong node (the study's), or estimated by a definition


def sampled_pits(cfg: StarConfig, task: StarGraphTask, sampler: HFSampler, problems: list[Problem],
                 pits: str) -> list[Pitted]:
    """The start checkpoint's distinct wrong samples of `problems` (`cfg.negatives_per_graph` each) with
    their pits: exact (`first_wrong`), or estimated from `cfg.q_rollouts` rollouts per prefix
    (`estimated_pits`, the definition `pits`; None where it finds none)."""
    if pits not in PITS:
        raise ValueError(f"pits must be one of {PITS}, got {pits!r}")
    paths = start_rollouts(sampler, task, problems, cfg.negatives_per_graph, cfg.seed + 1)
    found = list(first_wrong(task, problems, paths))
    if pits == "exact":
        return [Pitted(p, nodes, pit, pit) for p, nodes, pit in found]
    return estimated_pits(sampler, task, found, cfg.q_rollouts, cfg.seed + 2, pits)


def pit_agreement(found: list[Pitted]) -> dict[str, float]:
    """Where estimated pits landed against the exact first wrong node: the fractions of samples at it,
    before it, and with no pit found."""
    return {"pit_at_exact": float(np.mean([f.pit == f.exact for f in found])),
            "pit_before_exact": float(np.mean([f.pit is not None and f.pit < f.exact for f in found])),
            "pit_none": float(np.mean([f.pit is None for f in found]))}


def with_pit(found: list[Pitted]) -> list[Pitted]:
    return [f for f in found if f.pit is not None]


def fresh_pairs(cfg: StarConfig, task: StarGraphTask, sampler: HFSampler, pair_kind: str,
                pits: str = "exact") -> list[dict]:
    """Bachmann & Nagarajan's regime for per-step DPO: one pair from each of new training-split graphs
    (none of SFT's, up to chance), as many as one pass of the DPO run takes, so that no step sees a graph
    an earlier step saw and memorizing cannot lower the loss. A quarter more graphs are drawn than pairs
    needed, for the graphs whose samples are all right."""
    need = cfg.dpo.max_steps * cfg.dpo.batch_size
    fresh = task.make_problems("train", need + need // 4, cfg.seed + 1)
    one_each = {}
    for pair in PAIR_KINDS[pair_kind](task, with_pit(sampled_pits(cfg, task, sampler, fresh, pits))):
        one_each.setdefault(pair["uid"], pair)
    return list(one_each.values())[:need]


def dpo_run(cfg: StarConfig, sft_folder: Path, start: int, pair_kind: str = "cut", fresh: bool = False,
            pits: str = "exact") -> list[dict]:
    """Per-step DPO from SFT checkpoint `start` (also the frozen reference), on pairs from that
    checkpoint's own samples of the training graphs (temperature 1, continued from the start node,
    which every path begins with); metrics every `dpo_eval_every` steps. `pair_kind`: the paper's
    pairs ("cut", the study's) or Self-Explore's ("token", `token_pairs`); `fresh`: pairs from new graphs,
    one per graph (`fresh_pairs`), instead of SFT's training graphs; `pits`: the exact first wrong node (the
    study's) or the pit a definition finds from Monte-Carlo rollouts (`estimated_pits`).
    Cached; returns rows {step (SFT iterations + DPO steps), metric, value}."""
    def build(folder: Path) -> None:
        task = task_of(cfg)
        train, test = graphs(cfg)
        scored = train[:cfg.n_eval_train]
        model, tok = load_snapshot(sft_folder, start)
        reference, _ = load_snapshot(sft_folder, start)
        sampler = HFSampler(model, tok, batch_size=EVAL_BATCH)
        rows = []
        if fresh:
            pairs = fresh_pairs(cfg, task, sampler, pair_kind, pits)
        else:
            found = sampled_pits(cfg, task, sampler, train, pits)
            if pits != "exact" and found:
                rows += [{"step": start, "metric": k, "value": v} for k, v in pit_agreement(found).items()]
            pairs = PAIR_KINDS[pair_kind](task, with_pit(found))
        rows += [{"step": start, "metric": "n_pairs", "value": len(pairs)},
                {"step": start, "metric": "pit_at_critical",
                 "value": float(np.mean([p["pit"] == CRITICAL_INDEX for p in pairs])) if pairs else float("nan")}]

        def on_step(step: int, m) -> None:
            if step % cfg.dpo_eval_every == 0 or step == cfg.dpo.max_steps:
                metrics = evaluate(m, tok, task, scored, test, cfg.q_rollouts, cfg.seed)
                rows.extend({"step": start + step, "metric": k, "value": v} for k, v in metrics.items())

        if pairs:
            result = train_preference(model, reference, tok, [{k: p[k] for k in p if k != "pit"} for p in pairs],
                                      cfg.dpo, on_step=on_step)
            rows += [{"step": start + s, "metric": "dpo_loss", "value": v} for s, v in result.losses]
            rows += [{"step": start + r["step"], "metric": f"dpo_{m}", "value": r[m]}
                     for r in result.log for m in DIAGNOSTICS]  # a collapse shows in them
        (folder / "rows.json").write_text(json.dumps(rows))

    key = cache_key("star_dpo", sft_folder.name, start, to_dict(cfg.dpo), cfg.dpo_eval_every,
                    cfg.negatives_per_graph, cfg.q_rollouts, cfg.n_eval_train, cfg.n_test, cfg.seed,
                    pair_kind, fresh, pits, streams.KEY, StarGraphTask.checker)
    return json.loads((cached_dir("star_dpo", key, build) / "rows.json").read_text())


def sft_rows(cfg: StarConfig, sft_folder: Path) -> list[dict]:
    """SFT's training loss as logged, and every metric at each checkpoint (cached)."""
    def build(folder: Path) -> None:
        task = task_of(cfg)
        train, test = graphs(cfg)
        rows = [{"step": s, "metric": "sft_loss", "value": v}
                for s, v in json.loads((sft_folder / "train_log.json").read_text())["losses"]]
        for step in sorted(cfg.checkpoints):
            model, tok = load_snapshot(sft_folder, step)
            metrics = evaluate(model, tok, task, train[:cfg.n_eval_train], test, cfg.q_rollouts, cfg.seed)
            rows += [{"step": step, "metric": k, "value": v} for k, v in metrics.items()]
        (folder / "rows.json").write_text(json.dumps(rows))

    key = cache_key("star_sft_eval", sft_folder.name, sorted(cfg.checkpoints), cfg.q_rollouts, cfg.n_eval_train,
                    cfg.n_test, cfg.seed, streams.KEY, StarGraphTask.checker)
    return json.loads((cached_dir("star_sft_eval", key, build) / "rows.json").read_text())


def run(preset: Preset | str = "cpu", progress: bool = False, **overrides) -> pd.DataFrame:
    """The study on `preset.star` (fields replaced by `overrides`): a tidy table whose `method` is
    SFT or per-step DPO, `start` the SFT checkpoint DPO started from, `step` the iteration."""
    import dataclasses

    preset = get_preset(preset) if isinstance(preset, str) else preset
    cfg = dataclasses.replace(preset.star, **overrides)
    started = time.perf_counter()
    folder = sft_run(cfg)
    g = cfg.graph
    common = {"study": STUDY, "preset": preset.name, "task": f"G({g.d},{g.l},{g.n_nodes})",
              "n_problems": cfg.n_train, "n_test": cfg.n_test, "seed": cfg.seed}
    rows = [{**common, "method": SFT, **r} for r in sft_rows(cfg, folder)]
    for start, kind in tqdm(cfg.dpo_starts().items(), desc="per-step DPO starts", disable=not progress):
        rows += [{**common, "method": DPO, "start": start, "start_kind": kind, **r} for r in dpo_run(cfg, folder, start)]
    return table(rows, provenance(cache_key(to_dict(cfg)), time.perf_counter() - started))


# Our thresholds for the verdicts (the paper gives none): the shortcut is "shown" when the other
# path tokens are at least SHORTCUT_OTHER_ACC right while the critical token is at most
# 1/d + SHORTCUT_MARGIN; a "phase transition" is a test error that ends at most half the start
# checkpoint's and more than two standard errors below continued SFT at the same iteration.
SHORTCUT_OTHER_ACC = 0.9
SHORTCUT_MARGIN = 0.15


def n_arms(results: pd.DataFrame) -> int:
    """d of the study's graph, read from its task column ("G(d,l,N)")."""
    return int(results["task"].iloc[0].split("(")[1].split(",")[0])


def series(results: pd.DataFrame, metric: str, start: int | None = None) -> pd.DataFrame:
    """One metric against iteration: SFT's (start None) or that of per-step DPO from `start`."""
    equals = {"method": SFT} if start is None else {"method": DPO, "start": start}
    return curve(results, metric, **equals)


def figures(results: pd.DataFrame) -> dict:
    """Figs. 8a-c and the shortcut, drawn from the results."""
    from synthrl import figures as draw

    return {"fig8a_star_loss_q": draw.star_fig8a(results), "fig8b_star_under_trained": draw.star_fig8b(results),
            "fig8c_star_over_trained": draw.star_fig8c(results), "star_shortcut": draw.star_shortcut(results, n_arms(results))}


def _value(results: pd.DataFrame, metric: str, step: int | None = None, start: int | None = None) -> float:
    rows = series(results, metric, start)
    if step is None:
        return float(rows["value"].iloc[-1]) if len(rows) else float("nan")
    return float(np.interp(step, rows["step"], rows["value"]))  # SFT between checkpoints: linear


def transition(results: pd.DataFrame, start: int) -> dict:
    """Per-step DPO from SFT iteration `start` against continued SFT at the same final iteration."""
    dpo = results[(results.method == DPO) & (results.start == start) & (results.metric == "error_test")]
    n_test = int(results["n_test"].dropna().iloc[0])
    if dpo.empty:
        return {"start": start, "has_pairs": False}
    end = int(dpo.step.max())
    sft_end = results[(results.method == SFT) & (results.metric == "error_test")].step.max()
    e_dpo, e_sft = _value(results, "error_test", start=start), _value(results, "error_test", min(end, sft_end))
    e_start = _value(results, "error_test", start)
    se = math.sqrt((e_dpo * (1 - e_dpo) + e_sft * (1 - e_sft)) / n_test)
    return {"start": start, "has_pairs": True, "end": end, "error_start": e_start, "error_dpo": e_dpo,
            "error_sft": e_sft, "se": se,
            "transition": bool(e_dpo <= e_start / 2 and e_dpo < e_sft - 2 * se)}


def claims(results: pd.DataFrame) -> pd.DataFrame:
    """paper's claim | ours | verdict, every verdict computed from the results."""
    d = n_arms(results)
    rows = []
    crit, other = _value(results, "critical_acc_test"), _value(results, "other_acc_test")
    shortcut = other >= SHORTCUT_OTHER_ACC and crit <= 1 / d + SHORTCUT_MARGIN
    rows.append({"claim": "SFT learns the Clever Hans shortcut: other path tokens right, the critical token "
                          "near 1/d (test graphs, final SFT checkpoint, teacher-forced)",
                 "paper": f"critical about 1/d = {1 / d:.2f}, others about 1",
                 "ours": f"critical {crit:.3f}, others {other:.3f}",
                 "verdict": verdicts.NOT_TESTABLE if verdicts.at_bound([crit, other])
                 else verdicts.REPRODUCES if shortcut else verdicts.DOES_NOT})
    q_train, q_test = _value(results, "q_critical_train"), _value(results, "q_critical_test")
    n_test = int(results["n_test"].dropna().iloc[0])
    se = math.sqrt(max(q_test * (1 - q_test), 1e-12) / n_test)
    rows.append({"claim": "SFT memorizes the critical token: its Q rises on training graphs, not on test graphs "
                          "(final SFT checkpoint)",
                 "paper": "slow rise (memorization)", "ours": f"Q train {q_train:.3f}, test {q_test:.3f}",
                 "verdict": verdicts.NOT_TESTABLE if verdicts.at_bound([q_train, q_test])
                 else verdicts.REPRODUCES if q_train > q_test + 2 * se else verdicts.DOES_NOT})
    transitions = {kind: [transition(results, int(start)) for start in sorted(
        results[(results.method == DPO) & (results.start_kind == kind)].start.dropna().unique())]
        for kind in ("under-trained", "over-trained")}
    # the over-trained start's "no transition" counts only if some under-trained start transitioned
    elsewhere = any(t.get("transition") for t in transitions["under-trained"])
    for kind, found in transitions.items():
        for t in found:
            claim = f"per-step DPO from the {kind} SFT checkpoint at iteration {t['start']}: phase transition"
            paper = "yes" if kind == "under-trained" else "no"
            if not t["has_pairs"]:
                rows.append({"claim": claim, "paper": paper, "ours": "no negatives on the training graphs: "
                             "nothing to train on", "verdict": verdicts.NOT_TESTABLE})
                continue
            ours = (f"test error {t['error_start']:.3f} -> {t['error_dpo']:.3f} at iteration {t['end']} "
                    f"(continued SFT {t['error_sft']:.3f}, SE {t['se']:.3f})")
            if verdicts.at_bound([t["error_start"], t["error_dpo"], t["error_sft"]]):
                verdict = verdicts.NOT_TESTABLE  # nothing learned (smoke) or nothing left to learn
            elif kind == "under-trained":
                verdict = verdicts.REPRODUCES if t["transition"] else verdicts.DOES_NOT
            else:
                verdict = verdicts.absence(not t["transition"], elsewhere)
            rows.append({"claim": claim, "paper": paper, "ours": ours, "verdict": verdict})
    return pd.DataFrame(rows)
