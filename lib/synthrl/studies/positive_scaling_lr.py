"""Ablation of the positive-scaling study: the learning rate of SFT and RFT (the preset's
`scaling.lr_arms`), same sizes, seeds and pi_base as the main study. A smaller step keeps pi_sft
nearer pi_base, the model under which Fig. 3 compares D+ with D_syn. The main study's setting of
the same name without the lr suffix is the other arm; `positive_scaling.claims` judges each."""
from __future__ import annotations

import dataclasses

import pandas as pd

from synthrl.presets import Preset, get_preset
from synthrl.studies import positive_scaling

STUDY = "positive_scaling_lr"


def arms_preset(preset: Preset | str) -> Preset:
    """The preset whose scaling settings are its lr arms."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    return dataclasses.replace(preset, scaling=dataclasses.replace(preset.scaling, settings=preset.scaling.lr_arms))


def claims(results: pd.DataFrame, n_boot: int = 1000) -> pd.DataFrame:
    """The main study's verdicts, per arm."""
    return positive_scaling.claims(results, n_boot)


def run(preset: Preset | str = "cpu", progress: bool = False, **overrides) -> pd.DataFrame:
    """The tidy results of every cell of the lr arms (see `positive_scaling.run`)."""
    return positive_scaling.run(arms_preset(preset), progress, **overrides).assign(study=STUDY)
