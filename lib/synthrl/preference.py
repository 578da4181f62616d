"""The kit's preference trainer: DPO (Rafailov et al. 2023), DPOP (Pal et al. 2024, "Smaug") and
per-step DPO (the paper), with pi_sft as the frozen reference.

We write this ourselves because TRL's DPOTrainer does not compute the paper's objective: it
appends an end-of-sequence token to every rejected response, while per-step DPO scores a
*prefix* (a negative cut right after its first pit, which must not look finished), and TRL has no
DPOP. A pair is {"prompt", "chosen", "rejected", "rejected_is_prefix"}; chosen responses (and
whole rejected ones) end with EOS, a rejected prefix does not.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
import dataclasses
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from synthrl.loop import shuffled_batches, total_steps
from synthrl.config import PreferenceConfig


def encode(tokenizer, prompt: str, response: str, add_eos: bool) -> tuple[list[int], int]:
    """Token ids of prompt + response (+ EOS) and the number of prompt tokens."""
    p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    r = tokenizer(response, add_special_tokens=False)["input_ids"]
    return p + r + ([tokenizer.eos_token_id] if add_eos else []), len(p)


def encode_pair(tokenizer, pair: dict) -> dict:
    """A pair's token ids; each side ends with EOS unless the pair marks it a prefix."""
    chosen, n_prompt = encode(tokenizer, pair["prompt"], pair["chosen"], add_eos=not pair.get("chosen_is_prefix"))
    rejected, _ = encode(tokenizer, pair["prompt"], pair["rejected"], add_eos=not pair.get("rejected_is_prefix"))
    return {"chosen": chosen, "rejected": rejected, "n_prompt": n_prompt}


def batch_ids(sequences: list[list[int]], n_prompts: list[int], pad_id: int):
    """Right-padded ids, attention mask and a mask of the response tokens (what is scored)."""
    width = max(map(len, sequences))
    ids = torch.full((len(sequences), width), pad_id)
    attention = torch.zeros((len(sequences), width), dtype=torch.long)
    response = torch.zeros((len(sequences), width), dtype=torch.bool)
    for i, (seq, n) in enumerate(zip(sequences, n_prompts)):
        ids[i, :len(seq)] = torch.tensor(seq)
        attention[i, :len(seq)] = 1
        response[i, n:len(seq)] = True
    return ids, attention, response


def sequence_logps(model, ids: torch.Tensor, attention: torch.Tensor, response: torch.Tensor) -> torch.Tensor:
    """Sum of log pi(token | earlier tokens) over each sequence's response tokens: (batch,)."""
    logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1]  # (B, T-1, V)
    logp = torch.gather(F.log_softmax(logits.float(), dim=-1), 2, ids[:, 1:, None]).squeeze(2)
    return (logp * response[:, 1:]).sum(-1)


def pair_logps(model, encoded: list[dict], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """log pi(chosen | x) and log pi(rejected | x) for a batch of encoded pairs."""
    n = [e["n_prompt"] for e in encoded]
    seqs = [e["chosen"] for e in encoded] + [e["rejected"] for e in encoded]
    device = next(model.parameters()).device
    ids, attention, response = (t.to(device) for t in batch_ids(seqs, n + n, pad_id))
    logps = sequence_logps(model, ids, attention, response)
    return logps[: len(encoded)], logps[len(encoded):]


def preference_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, cfg: PreferenceConfig):
    """Per-pair loss. DPO: -log sigmoid(beta * (chosen log-ratio - rejected log-ratio)). DPOP adds
    a penalty inside the sigmoid when the chosen log-ratio falls below 0 (Pal et al. 2024):
    - lambda * max(0, log pi_ref(chosen) - log pi(chosen))."""
    chosen_ratio = policy_chosen - ref_chosen
    margin = chosen_ratio - (policy_rejected - ref_rejected)
    if cfg.loss == "dpop":
        margin = margin - cfg.dpop_lambda * torch.clamp(-chosen_ratio, min=0)
    return -F.logsigmoid(cfg.beta * margin)


@dataclass
class PreferenceResult:
    model: object
    losses: list[tuple[int, float]]  # (step, mean loss of the batch)
    wall_s: float
    # per step: loss, the batch's mean chosen and rejected log-ratios log pi/pi_ref, the reward margin
    # beta * (chosen - rejected log-ratio) and the pair accuracy (margin > 0), as TRL's DPOTrainer logs
    # them, with the learning rate and the gradient norm before clipping
    log: list[dict] = field(default_factory=list)


@torch.no_grad()
def reference_logps(reference, encoded: list[dict], pad_id: int, batch_size: int = 64):
    """pi_sft's log-probabilities of every pair, computed once before training."""
    was_training = reference.training
    reference.eval()
    chosen, rejected = [], []
    for start in range(0, len(encoded), batch_size):
        c, r = pair_logps(reference, encoded[start:start + batch_size], pad_id)
        chosen.append(c.cpu())
        rejected.append(r.cpu())
    reference.train(was_training)
    return torch.cat(chosen), torch.cat(rejected)


# The reference when the policy is pi_sft's own LoRA adapter trained further (a pretrained model's path,
# where pi_sft is an adapter and disabling it would give pi_base): the reference log-probs are computed
# once, before the first step, while the policy still is pi_sft. No second copy and no second adapter.
POLICY_AT_START = "policy at start"


def _frozen_reference(model, reference):
    """The reference model and the context it is scored in: `reference` itself; with LoRA models
    (reference None) the policy with its adapters disabled, which is pi_sft with no second copy; or
    (`POLICY_AT_START`) the policy itself before it is trained."""
    if reference is POLICY_AT_START:
        return model, nullcontext()
    if reference is not None:
        return reference, nullcontext()
    if hasattr(model, "disable_adapter"):
        return model, model.disable_adapter()
    raise ValueError("no reference model: give pi_sft, or a LoRA model whose disabled adapters are pi_sft")


# The diagnostics `step_log` records for each step, besides the loss, the learning rate and the gradient norm
DIAGNOSTICS = ("chosen_logratio", "rejected_logratio", "reward_margin", "pair_accuracy")


def step_log(step: int, loss, policy_chosen, policy_rejected, ref_chosen, ref_rejected, cfg: PreferenceConfig,
             lr: float, grad_norm: float) -> dict:
    """One step's diagnostics of a batch (see PreferenceResult.log)."""
    chosen_ratio = (policy_chosen - ref_chosen).detach()
    rejected_ratio = (policy_rejected - ref_rejected).detach()
    return {"step": step, "loss": float(loss), "chosen_logratio": float(chosen_ratio.mean()),
            "rejected_logratio": float(rejected_ratio.mean()),
            "reward_margin": float(cfg.beta * (chosen_ratio - rejected_ratio).mean()),
            "pair_accuracy": float((chosen_ratio > rejected_ratio).float().mean()), "lr": lr, "grad_norm": grad_norm}


def train_preference(model, reference, tokenizer, pairs: list[dict], cfg: PreferenceConfig,
                     on_step: Callable[[int, object], None] | None = None) -> PreferenceResult:
    """Train `model` (a copy of pi_sft, or pi_sft with LoRA adapters) on preference pairs against the
    frozen `reference` (None for a LoRA model: its adapters disabled; `POLICY_AT_START`: the model as it
    is before training). Warmup, then the configured schedule (transformers' schedulers), gradients
    clipped at `cfg.max_grad_norm`. `on_step(step, model)` is called before the first step (step 0) and
    after every step, with the model in eval mode (a study evaluates there)."""
    from transformers import get_scheduler

    from trl.trainer.utils import disable_dropout_in_model

    if not pairs:
        raise ValueError("no preference pairs to train on")
    # TRL's DPO default (DPOConfig.disable_dropout): with dropout on (LoRA's 0.05), the policy's log-probs
    # would differ from the reference's at the first step, when the two are the same model
    disable_dropout_in_model(model)
    encoded = [encode_pair(tokenizer, p) for p in pairs]
    ref_model, ref_context = _frozen_reference(model, reference)
    with ref_context:
        ref_chosen, ref_rejected = reference_logps(ref_model, encoded, tokenizer.pad_token_id)
    total = total_steps(len(encoded), cfg.batch_size, cfg.epochs, cfg.max_steps)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=cfg.lr)
    scheduler = get_scheduler("constant_with_warmup" if cfg.lr_scheduler == "constant" else cfg.lr_scheduler,
                              optimizer, num_warmup_steps=int(cfg.warmup_ratio * total), num_training_steps=total)
    losses, log, step, start = [], [], 0, time.perf_counter()

    def report() -> None:
        if on_step is not None:
            model.eval()
            on_step(step, model)
        model.train()

    report()
    bar = tqdm(total=total, desc="preference training", leave=False)
    for batch in shuffled_batches(len(encoded), cfg.batch_size, total, cfg.seed):
        chosen, rejected = pair_logps(model, [encoded[i] for i in batch], tokenizer.pad_token_id)
        device = chosen.device
        ref_c, ref_r = ref_chosen[batch].to(device), ref_rejected[batch].to(device)
        loss = preference_loss(chosen, rejected, ref_c, ref_r, cfg).mean()
        optimizer.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(trainable, cfg.max_grad_norm or float("inf"))
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        step += 1
        losses.append((step, loss.item()))
        log.append(step_log(step, loss.item(), chosen, rejected, ref_c, ref_r, cfg, lr, float(norm)))
        report()
        bar.update()
    bar.close()
    model.eval()
    return PreferenceResult(model, losses, time.perf_counter() - start, log)


TRAIN_METHODS = {"per-step-dpo": ("per_step_pairs", "dpo"), "dpo": ("naive_pairs", "dpo"),
                 "dpop": ("naive_pairs", "dpop"), "awr": ("advantages", None)}


def train(method: str, model: str, pairs: str, out: str, adapter: str | None = None, lora_r: int = 0,
          qlora: bool = False, cfg: PreferenceConfig | None = None, awr_beta: float = 0.1) -> dict:
    """The kit's trainers on the files `synthrl.pairs.build` wrote under `pairs`: per-step DPO (its
    per-step pairs, rejected prefixes without EOS), DPO or DPOP (its naive pairs), or AWR (its advantages,
    step weights exp(A / awr_beta) clipped as `pairs.awr_weights`). The policy is `model` (or its peft
    `adapter`, trained further), fully finetuned, or with new LoRA adapters of rank `lora_r` (4-bit base
    with `qlora`, on a GPU); the reference is the policy before training. Saves a standard checkpoint (an
    adapter under LoRA) with its training log to `out`; returns the log."""
    import json
    from pathlib import Path

    from synthrl.awr import train_awr
    from synthrl.config import ModelConfig, TrainConfig
    from synthrl.datafiles import atomic_write_text, read_jsonl
    from synthrl.models import load_pretrained, lora_config, save_checkpoint
    from synthrl.pairs import advantage_weights

    if method not in TRAIN_METHODS:
        raise ValueError(f"method must be one of {sorted(TRAIN_METHODS)}, got {method!r}")
    table, loss = TRAIN_METHODS[method]
    rows = read_jsonl(Path(pairs) / f"{table}.jsonl", min_rows=1)
    cfg = cfg or PreferenceConfig()
    # an adapter's own rank is in its folder: lora_r only satisfies ModelConfig's QLoRA check there
    model_cfg = ModelConfig(pretrained=str(model), lora_r=lora_r or (8 if adapter else 0), load_in_4bit=qlora)
    policy, tokenizer = load_pretrained(model_cfg, adapter or model, for_training=True)
    if adapter:  # the adapter trained further; its reference is itself before the first step
        reference = POLICY_AT_START
    elif lora_r:  # new adapters; the reference is the model with them disabled
        from peft import get_peft_model

        policy, reference = get_peft_model(policy, lora_config(model_cfg)), None
    else:  # full finetuning: a frozen copy of the model (for the preference losses only)
        reference = load_pretrained(model_cfg, model)[0] if method != "awr" else None
    if method == "awr":
        traces = [{"prompt": r["prompt"], "steps": r["steps"],
                   "weights": advantage_weights(r["advantages"], awr_beta).tolist()} for r in rows]
        result = train_awr(policy, tokenizer, traces, TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size,
                                                                  lr=cfg.lr, max_steps=cfg.max_steps), cfg.seed)
        log = {"method": method, "losses": result.losses, "wall_s": result.wall_s}
    else:
        keep = ("prompt", "chosen", "rejected", "rejected_is_prefix")
        result = train_preference(policy, reference, tokenizer, [{k: r[k] for k in keep} for r in rows],
                                  dataclasses.replace(cfg, loss=loss))
        log = {"method": method, "losses": result.losses, "wall_s": result.wall_s, "log": result.log}
    save_checkpoint(result.model, tokenizer, Path(out))
    atomic_write_text(Path(out) / "train_log.json", json.dumps({**log, "pairs": str(pairs), "rows": len(rows)}))
    return log
