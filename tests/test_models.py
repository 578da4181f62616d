import pytest
import torch

from synthrl.models import build_model, build_tokenizer, load_checkpoint, load_pretrained, save_checkpoint
from synthrl.config import ModelConfig
from synthrl.presets import get_preset
from synthrl.tasks.arith import ArithWorld

TINY = ModelConfig(hidden_size=32, n_layers=1, n_heads=2, intermediate_size=64, max_positions=64)


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer(ArithWorld().vocabulary())


def test_tokenizer_is_word_level_and_round_trips(tokenizer):
    text = "Bob has 7 + 3 = 10 apples .\nanswer 10"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text.split()) + text.count("\n")  # one token per word, newline kept
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == "Bob has 7 + 3 = 10 apples . \n answer 10"


def test_every_teacher_word_is_in_the_vocabulary(tokenizer):
    world = ArithWorld()
    for p in world.make_problems("train", 100, seed=0):
        ids = tokenizer(world.prompt(p) + p.solution, add_special_tokens=False)["input_ids"]
        assert tokenizer.unk_token_id not in ids


def test_checkpoint_round_trip_is_a_standard_hf_folder(tmp_path, tokenizer):
    model = build_model(TINY, tokenizer, seed=0)
    save_checkpoint(model, tokenizer, tmp_path)
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "config.json").exists()
    loaded, tok2 = load_checkpoint(tmp_path)
    x = torch.tensor([tokenizer("Ann has 3 apples .", add_special_tokens=False)["input_ids"]])
    torch.testing.assert_close(model(x).logits, loaded(x).logits)
    assert len(tok2) == len(tokenizer)


def test_same_seed_same_initialisation(tokenizer):
    a, b = build_model(TINY, tokenizer, seed=3), build_model(TINY, tokenizer, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU message")
def test_qlora_on_cpu_says_it_needs_cuda():
    cfg = ModelConfig(pretrained="some/model", lora_r=8, load_in_4bit=True)
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        load_pretrained(cfg)


def test_a_4bit_model_is_prepared_for_training_only_when_trained(monkeypatch):
    """peft's prepare_model_for_kbit_training (fp32 norms, input gradients) is for a model about to be
    trained; a QLoRA model loaded to sample or score stays as loaded. (No GPU here: the loading calls
    are stand-ins that record what load_pretrained asks of them.)"""
    import peft

    from synthrl import models

    prepared, loaded = [], []

    class Tokenizer:
        pad_token, eos_token = None, "</s>"

    monkeypatch.setattr(models, "quantization_config", lambda cfg: "nf4")
    monkeypatch.setattr(models.AutoModelForCausalLM, "from_pretrained",
                        lambda source, **kw: loaded.append(kw) or object())
    monkeypatch.setattr(models.AutoTokenizer, "from_pretrained", lambda source: Tokenizer())
    monkeypatch.setattr(peft, "prepare_model_for_kbit_training", lambda m: prepared.append(m) or m)
    cfg = ModelConfig(pretrained="some/model", lora_r=8, load_in_4bit=True)
    _, tokenizer = load_pretrained(cfg)
    assert prepared == [] and loaded[-1]["quantization_config"] == "nf4" and tokenizer.pad_token == "</s>"
    model, _ = load_pretrained(cfg, for_training=True)
    assert prepared == [model]


def test_model_config_validation():
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(hidden_size=30, n_heads=4)
    with pytest.raises(ValueError, match="pretrained"):
        ModelConfig(load_in_4bit=True)


def test_cpu_preset_model_size(tokenizer):
    n = sum(p.numel() for p in build_model(get_preset("cpu").model, tokenizer).parameters())
    assert 1e6 <= n <= 5e6  # design.md: cpu preset models are about 1 to 5M parameters
    n_smoke = sum(p.numel() for p in build_model(get_preset("smoke").model, tokenizer).parameters())
    assert n_smoke < 1e6
