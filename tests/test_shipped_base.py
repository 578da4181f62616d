"""pi_base shipped in data/models (`make pi-base`): used only when its provenance names the
preset's own pi_base config, and the committed one matches its preset."""
import json
from pathlib import Path

import pytest

from synthrl import pipeline, shipped
from synthrl.presets import get_preset

ROOT = Path(__file__).resolve().parents[1]
SMOKE = get_preset("smoke")


def test_a_shipped_base_is_used_without_training_and_only_for_its_config(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHRL_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SYNTHRL_HOME", str(tmp_path / "build"))
    built = pipeline.pi_base(SMOKE)
    folder = shipped.ship_pi_base(SMOKE, Path(built), pipeline.pi_base_key(SMOKE), pipeline.train_log(built))
    prov = json.loads((folder / "provenance.json").read_text())
    assert prov["cache_key"] == pipeline.pi_base_key(SMOKE) and prov["config"]["model"]["hidden_size"] == 64
    assert (folder / "model.safetensors").exists()

    import synthrl.train

    def no_training(*a, **k):
        raise AssertionError("pi_base was pretrained although a matching one is shipped")

    monkeypatch.setattr(synthrl.train, "sft", no_training)
    monkeypatch.setenv("SYNTHRL_HOME", str(tmp_path / "fresh"))
    base = pipeline.pi_base(SMOKE)
    assert (Path(base) / "model.safetensors").read_bytes() == (folder / "model.safetensors").read_bytes()
    # another config (a different seed) is not served the shipped model: it would be pretrained
    assert shipped.shipped_pi_base("smoke", pipeline.pi_base_key(get_preset("smoke", seed=1))) is None
    with pytest.raises(AssertionError, match="pretrained"):
        pipeline.pi_base(get_preset("smoke", seed=1))


def test_the_committed_cpu_base_matches_its_preset():
    folder = ROOT / "data" / "models" / "pi_base__cpu"
    if not folder.exists():
        pytest.skip("no shipped cpu pi_base")
    preset = get_preset("cpu")
    prov = json.loads((folder / "provenance.json").read_text())
    assert prov["cache_key"] == pipeline.pi_base_key(preset), "the shipped pi_base was built from another config: make pi-base"
    config = json.loads((folder / "config.json").read_text())
    m = preset.model
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"],
            config["intermediate_size"]) == (m.hidden_size, m.n_layers, m.n_heads, m.intermediate_size)
    from synthrl.models import load_checkpoint

    model, tokenizer = load_checkpoint(folder, m)
    assert len(tokenizer) == model.config.vocab_size == len(pipeline._tokenizer(preset))
