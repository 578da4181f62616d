"""The negative-knobs probe: each arm changes exactly its knob, the steps arm trains longer, and
the written rule judges hand-made errors as it says."""
import pandas as pd
import pytest

from synthrl.presets import get_preset
from synthrl.probes import negative as probe


def test_each_arm_changes_only_its_knob():
    cpu = get_preset("cpu")
    study = probe.arm_preset(cpu, probe.ARMS["study"]).negative
    assert study.first_pits == ("min",) and study.methods == () and study.dpo == cpu.negative.dpo
    assert study.credit == cpu.negative.credit and study.negatives_per_problem == cpu.negative.negatives_per_problem
    changed = {arm: probe.arm_preset(cpu, knobs).negative for arm, knobs in probe.ARMS.items()}
    assert changed["beta 0.03"].dpo.beta == 0.03 and changed["beta 0.03"].dpo.lr == study.dpo.lr
    assert changed["lr 3e-4"].dpo.lr == 3e-4 and changed["lr 3e-4"].dpo.beta == study.dpo.beta
    assert changed["8 negatives per problem"].negatives_per_problem == 8
    assert changed["16 rollouts per prefix"].credit.n_rollouts == 16
    assert changed["16 rollouts per prefix"].credit.rollout_batch == study.credit.rollout_batch
    assert changed["3x optimizer steps"].steps_multiple == 3 and study.steps_multiple == 1


def test_the_steps_arm_trains_three_times_as_long(module_run_home, monkeypatch):
    monkeypatch.setattr(probe, "SIZE", 16)
    monkeypatch.setattr(probe, "SEEDS", (0,))
    monkeypatch.setattr(probe, "ARMS", {k: probe.ARMS[k] for k in ("study", "3x optimizer steps")})
    df = probe.run("smoke")
    last = df[df.metric == "dpo_pair_accuracy"].set_index("arm")["step"]
    assert last["3x optimizer steps"] == 3 * last["study"] > 0
    assert set(df[df.metric == "test_error"].arm) == {"pi_sft", "study", "3x optimizer steps"}


def _errors(arms: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"arm": arm, "seed": s, "metric": "test_error", "value": v}
                         for arm, values in arms.items() for s, v in enumerate(values)]
                        + [{"arm": arm, "seed": 0, "metric": "n_pairs", "value": 10} for arm in arms if arm != "pi_sft"])


def test_the_rule_moves_only_arms_whose_paired_interval_excludes_zero(monkeypatch):
    monkeypatch.setattr(probe, "ARMS", {"study": {}, "steady": {}, "noisy": {}})
    df = _errors({"pi_sft": [0.75, 0.73, 0.71], "study": [0.74, 0.72, 0.70],
                  "steady": [0.64, 0.62, 0.61],  # 0.10, 0.10, 0.09 lower: the interval excludes 0
                  "noisy": [0.64, 0.82, 0.70]})  # -0.10, +0.10, 0: it holds 0
    v = probe.verdicts(df, sft_8x=0.60).set_index("arm")
    assert v.loc["steady", "moves"] == "moves it" and v.loc["steady", "hi"] < 0
    assert v.loc["noisy", "moves"] == "no change shown"
    assert v.loc["steady", "diff"] == pytest.approx(-0.0967, abs=1e-3)
    assert v.loc["steady", "beats_sft_128"] and not v.loc["steady", "reaches_8x"]  # 0.623 > 0.60
    assert v.loc["study", "beats_sft_128"]  # 0.72 < 0.73
    assert probe.verdicts(df, sft_8x=0.63).set_index("arm").loc["steady", "reaches_8x"]
