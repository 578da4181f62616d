import os
import subprocess
import sys
import threading

import torch

from synthrl.models import build_model, build_tokenizer
from synthrl.config import ModelConfig, TrainConfig
from synthrl.tasks.arith import ArithConfig, ArithWorld
from synthrl.train import completion_rows, sft

TINY = ModelConfig(hidden_size=48, n_layers=2, n_heads=2, intermediate_size=96, max_positions=128)


def test_sft_loss_falls_and_parameters_change(capfd):
    world = ArithWorld(ArithConfig(min_steps=1, max_steps=2, max_value=10))
    problems = world.make_problems("train", 96, seed=0)
    tok = build_tokenizer(world.vocabulary())
    model = build_model(TINY, tok, seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    rows = completion_rows([world.prompt(p) for p in problems], [p.solution for p in problems])
    result = sft(model, tok, rows, TrainConfig(epochs=12, batch_size=16, lr=3e-3), TINY, desc="SFT here")
    # a progress bar over the steps, named by the caller (none where the user set TQDM_DISABLE)
    assert "SFT here:" in capfd.readouterr().err or os.environ.get("TQDM_DISABLE")
    losses = [v for _, v in result.losses]
    assert losses[-1] < 0.6 * losses[0]
    assert any(not torch.equal(a, b.cpu()) for a, b in zip(before, result.model.parameters()))  # (TRL: on a GPU)
    assert result.tokens > 0
    assert not [t.name for t in threading.enumerate() if "telemetry" in t.name]  # TRL sent nothing to the Hub


def test_importing_the_kit_turns_the_hubs_telemetry_off_unless_a_user_turned_it_on():
    probe = "import synthrl, huggingface_hub.constants as c; print(c.HF_HUB_DISABLE_TELEMETRY)"
    base = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_TELEMETRY"}
    for env, disabled in ((base, "True"), ({**base, "HF_HUB_DISABLE_TELEMETRY": "0"}, "False")):
        shown = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
        assert shown.stdout.strip() == disabled


def test_loss_is_on_the_solution_only():
    """TRL's completion-only loss: a model trained on fixed prompts + random completions learns
    the completion distribution; its prompt tokens carry no loss, so they stay unlearned."""
    from datasets import Dataset
    from trl import SFTTrainer

    from synthrl.train import sft_config

    world = ArithWorld()
    tok = build_tokenizer(world.vocabulary())
    p = world.make_problems("train", 1, seed=0)[0]
    rows = completion_rows([world.prompt(p)], [p.solution])
    trainer = SFTTrainer(model=build_model(TINY, tok), args=sft_config(TrainConfig(), TINY, 0, "/tmp/x", 128),
                         train_dataset=Dataset.from_list(rows), processing_class=tok)
    batch = trainer.data_collator([trainer.train_dataset[0]])
    n_prompt = len(tok(world.prompt(p), add_special_tokens=False)["input_ids"])
    labels = batch["labels"][0]
    assert (labels[:n_prompt] == -100).all()
    assert (labels[n_prompt:] != -100).all()
    assert labels[-1] == tok.eos_token_id  # the solution ends with end-of-sequence
