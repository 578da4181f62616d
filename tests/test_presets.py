import pytest

from synthrl.presets import PRESETS, get_preset


def test_four_presets():
    assert set(PRESETS) == {"smoke", "cpu", "gpu", "paper"}


def test_unknown_field_and_preset_say_what_is_valid():
    with pytest.raises(ValueError, match="valid fields"):
        get_preset("cpu", n_trian=10)
    with pytest.raises(ValueError, match="choose one of"):
        get_preset("laptop")


def test_paper_preset_is_qlora_on_gsm8k():
    p = get_preset("paper")
    assert p.task == "gsm8k" and p.model.load_in_4bit and p.model.lora_r > 0
