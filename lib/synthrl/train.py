"""Training through TRL's `SFTTrainer`: pretraining pi_base (loss on every token), SFT on D_syn
and RFT on D+ (prompt-completion data: loss on the solution only, TRL's completion_only_loss)."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass

import torch
from datasets import Dataset
from transformers import PrinterCallback, TrainerCallback

from synthrl.hardware import train_bf16
from synthrl.config import ModelConfig, TrainConfig


@dataclass
class TrainResult:
    model: object
    losses: list[tuple[int, float]]  # (global step, training loss)
    tokens: int  # tokens seen (inputs, padding excluded)
    wall_s: float


class _LossLog(TrainerCallback):
    def __init__(self) -> None:
        self.losses: list[tuple[int, float]] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.losses.append((state.global_step, float(logs["loss"])))


class Progress(TrainerCallback):
    """A tqdm bar over the optimizer steps (a widget in a notebook, a line on a terminal; TQDM_DISABLE=1
    hides it). transformers' own bar is off (`disable_tqdm`): it also prints every log line."""

    def __init__(self, desc: str) -> None:
        self.desc, self.bar = desc, None

    def on_train_begin(self, args, state, control, **kwargs):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=state.max_steps, desc=self.desc, leave=False)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()


class EpochSnapshots(TrainerCallback):
    """A copy of the trainable weights at the end of every epoch (and at the last step, if that is not an
    epoch's end): the candidates a checkpoint is chosen among (`pipeline`'s SFT on a dev split). Only the
    trainable weights are kept, so for a LoRA model the adapters alone."""

    def __init__(self) -> None:
        self.snapshots: list[tuple[int, dict]] = []  # (global step, {parameter name: tensor on the CPU})

    def _take(self, state, model) -> None:
        if model is not None and (not self.snapshots or self.snapshots[-1][0] != state.global_step):
            self.snapshots.append((state.global_step, {n: p.detach().to("cpu", copy=True)
                                                        for n, p in model.named_parameters() if p.requires_grad}))

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        self._take(state, model)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self._take(state, model)


def load_snapshot(model, snapshot: dict) -> None:
    """Put a snapshot's weights (`EpochSnapshots`) back into the model it was taken from."""
    params = dict(model.named_parameters())
    missing = set(snapshot) - set(params)
    if missing:
        raise KeyError(f"snapshot names parameters the model lacks: {sorted(missing)[:3]}")
    with torch.no_grad():
        for name, value in snapshot.items():
            params[name].copy_(value)


def _checkpointing(config_cls, on: bool) -> dict:
    """Activation checkpointing on or off (transformers 5.2x renamed gradient_checkpointing, kept as a
    deprecated alias): TRL turns it on by default, which only costs time for a small model on a CPU."""
    name = ("activation_checkpointing" if "activation_checkpointing" in config_cls.__dataclass_fields__
            else "gradient_checkpointing")
    return {name: on}


def _set_attention(model, name: str) -> str:
    """Switch the model's attention kernel to `name` ("" keeps it); returns the one it had. On a CPU,
    at the cpu model's lengths (about 80 tokens, head width 40), eager attention with bf16 trains faster
    than SDPA (`synthrl.bench.recipe` measures each)."""
    own = getattr(model.config, "_attn_implementation", None) or ""
    if name and name != own:
        model.set_attn_implementation(name)
    return own


def sft_config(cfg: TrainConfig, model_cfg: ModelConfig, seed: int, output_dir: str, max_length: int,
               lr_scheduler: str = "cosine"):
    """TRL's SFTConfig for our runs. TRL defaults bf16 and gradient checkpointing to on; both are
    wrong for a 1M-parameter model on a CPU, so they follow the preset (bf16: `hardware.train_bf16`)."""
    from trl import SFTConfig

    on_gpu = torch.cuda.is_available()
    return SFTConfig(
        output_dir=output_dir,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.lr,
        lr_scheduler_type=lr_scheduler,  # cosine: our choice (nanoGPT-style); the paper does not say
        warmup_steps=cfg.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of all steps
        weight_decay=cfg.weight_decay,
        logging_steps=5,
        save_strategy="no",
        report_to="none",
        seed=seed,
        data_seed=seed,
        bf16=train_bf16(model_cfg) if cfg.bf16_autocast is None else cfg.bf16_autocast,
        train_sampling_strategy="group_by_length" if cfg.length_grouped else "random",
        torch_compile=cfg.compiled,
        **_checkpointing(SFTConfig, model_cfg.pretrained is not None and on_gpu),
        use_cpu=not on_gpu,
        max_length=max_length,
        dataloader_num_workers=0,
        disable_tqdm=True,
        completion_only_loss=None,  # TRL: on for prompt-completion rows, off for plain text
    )


def sft(model, tokenizer, rows: list[dict], cfg: TrainConfig, model_cfg: ModelConfig, seed: int = 0,
        max_length: int | None = None, lr_scheduler: str = "cosine", callbacks: tuple = (),
        desc: str = "training") -> TrainResult:
    """Next-token NLL training. `rows` are {"prompt", "completion"} (loss on the completion, an
    end-of-sequence token appended by TRL) or {"text"} (loss on everything). `callbacks` are
    transformers TrainerCallbacks (e.g. snapshots along training); `desc` names the progress bar."""
    import time

    from trl import SFTTrainer

    from synthrl.models import lora_config

    if not rows:
        raise ValueError("no training rows: D_syn or D+ is empty (did every sample fail?)")
    callback = _LossLog()
    own_attention = _set_attention(model, cfg.attention)
    with tempfile.TemporaryDirectory(prefix="synthrl-trainer-") as out:
        args = sft_config(cfg, model_cfg, seed, out, max_length or model_cfg.max_positions, lr_scheduler)
        trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                             processing_class=tokenizer, peft_config=lora_config(model_cfg),
                             callbacks=[callback, Progress(desc), *callbacks])
        trainer.remove_callback(PrinterCallback)  # losses go to the callback, not to stdout
        tokens = int(sum(sum(x) for x in trainer.train_dataset["attention_mask"])) \
            if "attention_mask" in trainer.train_dataset.column_names \
            else int(sum(len(x) for x in trainer.train_dataset["input_ids"]))
        start = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - start
    _set_attention(trainer.model, own_attention)
    epochs = trainer.state.num_train_epochs if cfg.max_steps <= 0 else trainer.state.epoch
    return TrainResult(trainer.model, callback.losses, int(tokens * epochs), wall)


def completion_rows(prompts: list[str], completions: list[str]) -> list[dict]:
    return [{"prompt": p, "completion": c} for p, c in zip(prompts, completions, strict=True)]


def grpo(model, tokenizer, prompts: list[dict], reward, cfg: TrainConfig, model_cfg: ModelConfig, seed: int,
         num_generations: int, temperature: float, max_new_tokens: int, max_steps: int) -> TrainResult:
    """Outcome-reward online RL through TRL's `GRPOTrainer` (Shao et al. 2024): `num_generations`
    samples of each prompt, scored by `reward(completions, uids) -> list[float]` (the verifier's 0/1),
    advantages normalised within each prompt's group. `prompts` are {"prompt", "uid"}. The batch is
    two prompts' groups; TRL's generation (transformers' `generate`) samples. Everything else is TRL's
    default, as a user would run it (its DAPO loss, no KL term, group-scaled rewards)."""
    import time

    from trl import GRPOConfig, GRPOTrainer

    from synthrl.models import lora_config

    if not prompts:
        raise ValueError("no prompts to train on")

    from synthrl.sampling import count_tokens

    sampled = [0]  # completion tokens TRL sampled (the online method's cost), counted as every sampler's

    def verifier(prompts, completions, uid, **kwargs) -> list[float]:
        sampled[0] += sum(count_tokens(tokenizer, completions, max_new_tokens))
        return reward(completions, uid)

    callback = _LossLog()
    on_gpu = torch.cuda.is_available()
    with tempfile.TemporaryDirectory(prefix="synthrl-grpo-") as out:
        args = GRPOConfig(
            output_dir=out, max_steps=max_steps, per_device_train_batch_size=2 * num_generations,
            num_generations=num_generations, learning_rate=cfg.lr, lr_scheduler_type="cosine",
            warmup_steps=cfg.warmup_ratio, weight_decay=cfg.weight_decay, temperature=temperature,
            max_completion_length=max_new_tokens, logging_steps=5, save_strategy="no", report_to="none", seed=seed,
            data_seed=seed, bf16=train_bf16(model_cfg), use_cpu=not on_gpu, dataloader_num_workers=0,
            disable_tqdm=True, **_checkpointing(GRPOConfig, model_cfg.pretrained is not None and on_gpu))
        trainer = GRPOTrainer(model=model, reward_funcs=[verifier], args=args, train_dataset=Dataset.from_list(prompts),
                              processing_class=tokenizer, peft_config=lora_config(model_cfg),
                              callbacks=[callback, Progress("GRPO")])
        trainer.remove_callback(PrinterCallback)
        start = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - start
    return TrainResult(trainer.model, callback.losses, sampled[0], wall)  # tokens: sampled, not trained on
