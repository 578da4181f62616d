"""Advantage-weighted RL (paper.md, Methods; Peng et al. 2019): next-token NLL on the steps of pi_sft's
positive and negative traces, each step's tokens weighted by exp(A / beta) (`pairs.awr_weights`). Per-step
DPO shares its optimum with this objective (the paper's Theorem 6.1).

We write this ourselves: TRL's trainers take one weight per sequence at most, and AWR weights each
step. A trace is {prompt, steps, weights}; its text is the steps joined by newlines, as D_syn's
solutions are written, then EOS, which takes the last step's weight.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from synthrl.loop import shuffled_batches, total_steps
from synthrl.config import TrainConfig


def encode_weighted(tokenizer, prompt: str, steps: list[str], weights: list[float]) -> dict:
    """Token ids of prompt + steps + EOS, and a weight per id (0 on the prompt). Step i owns the
    tokens its text adds to steps 1..i-1 (the newline before it included), so a sub-word tokenizer
    cuts where it would cut the whole text."""
    if len(steps) != len(weights) or not steps:
        raise ValueError(f"{len(steps)} steps but {len(weights)} weights (need one per step, at least one)")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids, token_weights, done = [], [], 0
    for i, w in enumerate(weights):
        text_ids = tokenizer("\n".join(steps[:i + 1]), add_special_tokens=False)["input_ids"]
        ids, token_weights = text_ids, token_weights + [float(w)] * (len(text_ids) - done)
        done = len(text_ids)
    return {"ids": prompt_ids + ids + [tokenizer.eos_token_id],
            "weights": [0.0] * len(prompt_ids) + token_weights + [float(weights[-1])]}


def weighted_nll(model, batch: list[dict], pad_id: int) -> torch.Tensor:
    """sum(w * NLL) / sum(w) over the batch's tokens: a weighted mean, so that the weights set how the
    traces' tokens are mixed and the learning rate keeps its meaning (the optimum is the same)."""
    width = max(len(e["ids"]) for e in batch)
    device = next(model.parameters()).device
    ids = torch.full((len(batch), width), pad_id, device=device)
    attention = torch.zeros((len(batch), width), dtype=torch.long, device=device)
    weights = torch.zeros((len(batch), width), device=device)
    for i, e in enumerate(batch):
        ids[i, :len(e["ids"])] = torch.tensor(e["ids"], device=device)
        attention[i, :len(e["ids"])] = 1
        weights[i, :len(e["ids"])] = torch.tensor(e["weights"], device=device)
    logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1].float()
    nll = F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")  # (B, T-1)
    w = weights[:, 1:]
    return (w * nll).sum() / w.sum().clamp_min(1e-8)


@dataclass
class AWRResult:
    model: object
    losses: list[tuple[int, float]]
    wall_s: float


def train_awr(model, tokenizer, traces: list[dict], cfg: TrainConfig, seed: int = 0) -> AWRResult:
    """Advantage-weighted NLL on traces {prompt, steps, weights}: AdamW, warmup then cosine
    (transformers' scheduler, as SFT through TRL), gradients clipped at 1.0 (transformers' default)."""
    from transformers import get_scheduler

    encoded = [encode_weighted(tokenizer, t["prompt"], t["steps"], t["weights"]) for t in traces]
    if not encoded:
        raise ValueError("no traces to train on")
    total = total_steps(len(encoded), cfg.batch_size, cfg.epochs, cfg.max_steps)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = get_scheduler("cosine", optimizer, num_warmup_steps=int(cfg.warmup_ratio * total),
                              num_training_steps=total)
    losses, step, start = [], 0, time.perf_counter()
    model.train()
    for batch in shuffled_batches(len(encoded), cfg.batch_size, total, seed):
        loss = weighted_nll(model, [encoded[i] for i in batch], tokenizer.pad_token_id)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        step += 1
        losses.append((step, loss.item()))
    model.eval()
    return AWRResult(model, losses, time.perf_counter() - start)
