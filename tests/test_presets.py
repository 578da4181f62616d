import dataclasses

import pytest

from synthrl.config import Preset, TrainConfig, to_dict
from synthrl.presets import PRESETS, get_preset


def test_each_preset_is_named_by_its_key_and_overrides_make_a_validated_copy():
    for name, preset in PRESETS.items():
        assert preset.name == name and get_preset(name) == preset
    smaller = get_preset("cpu", n_test=10)
    assert smaller.n_test == 10 and PRESETS["cpu"].n_test != 10
    with pytest.raises(ValueError):
        get_preset("cpu", n_test=10, task="gsm8k")  # a hub task without a pretrained model is refused


def _fields(value, prefix=""):
    """Every dataclass field under `value`, by dotted path."""
    out = set()
    for f in dataclasses.fields(value):
        out.add(prefix + f.name)
        inner = getattr(value, f.name)
        if dataclasses.is_dataclass(inner):
            out |= _fields(inner, f"{prefix}{f.name}.")
    return out


def _keys(value, prefix=""):
    out = set()
    for k, v in value.items():
        out.add(prefix + k)
        if isinstance(v, dict):
            out |= _keys(v, f"{prefix}{k}.")
    return out


def test_a_config_as_plain_data_keeps_every_field_so_every_field_reaches_the_cache_keys():
    from synthrl.pipeline import pi_base_key

    preset = get_preset("cpu")
    assert _fields(preset) == _keys(to_dict(preset))
    assert pi_base_key(dataclasses.replace(preset, pretrain=TrainConfig(attention="eager"))) != pi_base_key(preset)
    assert pi_base_key(dataclasses.replace(preset, sft=TrainConfig(lr=1e-5))) == pi_base_key(preset)  # not pretraining
    assert isinstance(preset, Preset)


def test_unknown_field_and_preset_say_what_is_valid():
    with pytest.raises(ValueError, match="valid fields"):
        get_preset("cpu", n_trian=10)
    with pytest.raises(ValueError, match="choose one of"):
        get_preset("laptop")


def test_paper_preset_is_qlora_on_gsm8k():
    p = get_preset("paper")
    assert p.task == "gsm8k" and p.model.load_in_4bit and p.model.lora_r > 0
