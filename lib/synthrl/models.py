"""Models: a small Llama built from a config with a word-level tokenizer built locally for a
world (no hub), or a pretrained model with LoRA / QLoRA adapters. Every model is a standard
Hugging Face checkpoint on disk (safetensors), so transformers and vLLM both load it."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, models, pre_tokenizers
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from synthrl.config import ModelConfig

SPECIAL_TOKENS = ("<pad>", "<eos>", "<unk>")


def _word_level(words: list[str], splits: list) -> PreTrainedTokenizerFast:
    vocab: dict[str, int] = {}
    for w in (*SPECIAL_TOKENS, *words):
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(splits)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>",
                                   unk_token="<unk>", clean_up_tokenization_spaces=False)


def build_tokenizer(words: list[str]) -> PreTrainedTokenizerFast:
    """One token per word of the world, plus the newline that ends a step.

    Text splits on spaces (dropped) and newlines (kept as a token); decoding joins tokens with
    single spaces, so a decoded solution reads "Bob has 7 + 3 = 10 apples . \\n answer 10".
    """
    return _word_level(["\n", *words], [pre_tokenizers.Split(" ", "removed"), pre_tokenizers.Split("\n", "isolated")])


def build_stargraph_tokenizer(n_nodes: int) -> PreTrainedTokenizerFast:
    """Bachmann & Nagarajan's tokenization of star-graph lines: one token per node label and per
    separator ('|', '/', '='), commas dropped. A decoded path reads "3 14 7 9"."""
    splits = [pre_tokenizers.Split(" ", "removed"), pre_tokenizers.Split(",", "removed"),
              pre_tokenizers.Split(Regex(r"[|/=]"), "isolated")]
    return _word_level([*(str(i) for i in range(n_nodes)), "|", "/", "="], splits)


def build_model(cfg: ModelConfig, tokenizer, seed: int = 0) -> LlamaForCausalLM:
    """A freshly initialised Llama-architecture model sized by `cfg` (tied embeddings)."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        num_key_value_heads=cfg.n_heads,
        max_position_embeddings=cfg.max_positions,
        tie_word_embeddings=True,  # our choice: halves the parameters of a tiny-vocabulary model
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def n_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def save_checkpoint(model, tokenizer, path: Path) -> Path:
    """A standard Hugging Face checkpoint (safetensors); for a LoRA model, its adapter."""
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


def quantization_config(cfg: ModelConfig):
    """QLoRA's 4-bit setting (Dettmers et al. 2023): NF4 weights, double quantization, bf16 compute."""
    if not cfg.load_in_4bit:
        return None
    if not torch.cuda.is_available():
        raise RuntimeError("QLoRA (load_in_4bit=True) needs a CUDA GPU and bitsandbytes; on this machine "
                           "use a from-scratch preset (smoke, cpu) or set load_in_4bit=False for plain LoRA.")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16)


def lora_config(cfg: ModelConfig):
    """LoRA adapters on every linear projection (QLoRA's recipe), or None for full finetuning."""
    if cfg.lora_r <= 0:
        return None
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")


def load_pretrained(cfg: ModelConfig, path: str | Path | None = None, for_training: bool = False):
    """A pretrained causal LM and its tokenizer (hub id or local folder), 4-bit if QLoRA.

    A folder holding a LoRA adapter (adapter_config.json) loads its base model with the adapter, which
    trains further if it is loaded `for_training` and is frozen otherwise. A 4-bit
    model is prepared for training (peft's prepare_model_for_kbit_training: fp32 norms, input gradients)
    only when it is loaded `for_training`: a model loaded to sample or to score is left as loaded.
    """
    source = str(path or cfg.pretrained)
    # bf16 weights only for a hub model's base that stays frozen (under LoRA, or not trained): weights that
    # train stay fp32 masters, computed in bf16 under autocast (TRL's `bf16`), and a from-scratch model's
    # checkpoints stay fp32 (they are trained further, and score as references).
    frozen_hub_base = cfg.pretrained is not None and (cfg.lora_r > 0 or not for_training)
    kwargs = {"dtype": torch.bfloat16 if cfg.bf16 and frozen_hub_base else torch.float32}
    qconfig = quantization_config(cfg)
    if qconfig is not None:
        kwargs.update(quantization_config=qconfig, device_map={"": 0})
    adapter = Path(source) / "adapter_config.json"
    base = json.loads(adapter.read_text())["base_model_name_or_path"] if adapter.exists() else source
    model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
    if qconfig is not None and for_training:
        from peft import prepare_model_for_kbit_training

        # before the adapter is attached: it freezes every weight there is (an attached adapter too)
        model = prepare_model_for_kbit_training(model)
    if adapter.exists():
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, source, is_trainable=for_training)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def load_checkpoint(path: str | Path, cfg: ModelConfig | None = None, device: str | None = None,
                    for_training: bool = False):
    """Model and tokenizer from a checkpoint folder written by `save_checkpoint` (`load_pretrained`)."""
    model, tokenizer = load_pretrained(cfg or ModelConfig(), path, for_training)
    if device is not None and not getattr(model, "is_loaded_in_4bit", False):
        model = model.to(device)
    return model, tokenizer
