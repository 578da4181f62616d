"""Stand-ins for the hub paths, built offline: GSM8K-format data files and a small "pretrained" model,
so that the code a GPU user runs on GSM8K with a hub model (the `paper` preset, `synthrl pairs`,
`synthrl train`) runs here, on a CPU, with no download: the tests and notebook 05 use them.

- `write_gsm8k`: GSM8K's own JSONL format ({"question", "answer"}, calculator annotations "<<5-3=2>>",
  the answer ending "#### N"), written from the arith world's problems and teacher solutions.
- `gsm8k_standin`: the one stand-in the tests and notebook 05 use, built once per run cache.
- `build_standin`: a tiny Llama with a byte-level BPE tokenizer trained by `tokenizers` on the texts it
  is given, pretrained on them for a few steps and saved as a standard Hugging Face folder (config,
  safetensors, tokenizer.json), which `models.load_pretrained` loads exactly as it loads a hub id.
"""
from __future__ import annotations

import re
from pathlib import Path

from synthrl.config import ModelConfig, TrainConfig
from synthrl.datafiles import write_jsonl
from synthrl.tasks.arith import ArithConfig, ArithWorld
from synthrl.tasks.base import Problem

EOS = "<|endoftext|>"  # GPT-2's end-of-text token, as byte-level BPE tokenizers name it
WORLD = ArithConfig(min_steps=1, max_steps=2, max_value=10, n_names=8)  # the smoke preset's world
MODEL = ModelConfig(hidden_size=64, n_layers=2, n_heads=2, intermediate_size=128, max_positions=256)
# Solved problems the stand-in reads before it is a "pretrained" model. With 300 its pi_sft solved 1.6% of
# its samples in the paper path's test and per-step DPO rested on one pair; with 3,000 it solves 18% and
# makes 9 pairs from 32 negatives.
N_READ = 3000
_EQUATION = re.compile(r"(\d+) ([-+*]) (\d+) = (\d+)")


def gsm8k_row(problem: Problem) -> dict:
    """A problem in GSM8K's format: its solution's steps with calculator annotations, then "#### N"."""
    steps = [line for line in problem.solution.split("\n") if not line.startswith("answer")]
    annotated = [_EQUATION.sub(lambda m: f"{m[1]} {m[2]} {m[3]} = <<{m[1]}{m[2]}{m[3]}={m[4]}>>{m[4]}", s)
                 for s in steps]
    return {"question": problem.question, "answer": "\n".join([*annotated, f"#### {problem.answer}"])}


def write_gsm8k(folder: Path, world, n_train: int, n_test: int, seed: int = 0) -> dict[str, Path]:
    """GSM8K-format train and test files of an arith world (`tasks.arith.ArithWorld`); split -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for split, n in (("train", n_train), ("test", n_test)):
        files[split] = write_jsonl(folder / f"gsm8k_{split}.jsonl",
                                   [gsm8k_row(p) for p in world.make_problems(split, n, seed)])
    return files


def train_bpe(texts: list[str], vocab_size: int = 512):
    """A byte-level BPE tokenizer (GPT-2's scheme) trained on `texts` by `tokenizers`: any text encodes,
    and decoding gives the text back exactly, as a hub model's tokenizer does."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=EOS,
                                   clean_up_tokenization_spaces=False)


def build_standin(folder: Path, texts: list[str], model: ModelConfig, train: TrainConfig, seed: int = 0,
                  vocab_size: int = 512) -> Path:
    """A tiny Llama (sized by `model`) and a BPE tokenizer trained on `texts`, the model pretrained on
    the texts (loss on every token) by `train`, saved as a Hugging Face folder: the stand-in hub model."""
    from synthrl.models import build_model, save_checkpoint
    from synthrl.train import sft

    tokenizer = train_bpe(texts, vocab_size)
    net = build_model(model, tokenizer, seed=seed)
    result = sft(net, tokenizer, [{"text": t} for t in texts], train, model, seed)
    return save_checkpoint(result.model, tokenizer, folder)


def gsm8k_standin(home: Path | None = None, world_cfg: ArithConfig = WORLD, model: ModelConfig = MODEL,
                  n_read: int = N_READ) -> Path:
    """The stand-in "pretrained" model that has read `n_read` solved GSM8K-format problems of an arith world
    (not a study's D_syn or test problems: a seed of their own), as a math base model has read solved
    problems: a Hugging Face folder. Built once under `home` (the run cache by default; in the tests, a
    folder every pytest worker shares) and read from there after."""
    from synthrl.cache import cache_key, cached_dir
    from synthrl.tasks.hub import HubMathTask, gsm8k_problem

    train = TrainConfig(epochs=3.0, batch_size=16, lr=3e-3)

    def build(folder: Path) -> None:
        world, task = ArithWorld(world_cfg), HubMathTask("gsm8k")
        read = [gsm8k_problem(gsm8k_row(p), "corpus") for p in world.make_problems("train", n_read, 7)]
        build_standin(folder, [task.prompt(p) + p.solution for p in read], model, train)

    return cached_dir("standin", cache_key("standin", world_cfg, model, train, n_read), build, home=home)
