"""The training recipe: its options reach TRL and change only what they claim to, and the rule that
adopts a recipe judges what it says it judges, from cell files that resume."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from synthrl.bench.suite import trl_batches
from synthrl.models import build_model, build_tokenizer
from synthrl.config import TrainConfig, to_dict
from synthrl.presets import get_preset
from synthrl.bench import recipe
from synthrl.bench.recipe import ADOPTION_PROBE, KEPT, NEW, OLD, RECIPES, adopted, judge
from synthrl.tasks.arith import ArithWorld
from synthrl.train import completion_rows, sft


@pytest.fixture(scope="module")
def smoke():
    preset = get_preset("smoke")
    world = ArithWorld(preset.world)
    tok = build_tokenizer(world.vocabulary())
    problems = world.make_problems("train", 256, seed=0)
    rows = completion_rows([world.prompt(p) for p in problems], [p.solution for p in problems])
    return preset, tok, rows


def test_eager_attention_trains_the_loss_curve_of_sdpa_and_the_checkpoint_keeps_its_kernel(smoke):
    preset, tok, rows = smoke
    cfg = TrainConfig(epochs=1, max_steps=30, batch_size=16, lr=3e-3)
    runs = {name: sft(build_model(preset.model, tok, seed=0), tok, rows, dataclasses.replace(cfg, attention=name),
                      preset.model) for name in ("", "eager")}
    a, b = (np.array([x for _, x in r.losses]) for r in runs.values())
    assert len(a) == len(b) >= 5 and a[-1] < 0.8 * a[0]
    assert np.abs(a - b).max() < 1e-4  # the same sums in another order: float noise
    assert runs["eager"].model.config._attn_implementation == runs[""].model.config._attn_implementation == "sdpa"


def _sequences(batches) -> list[tuple]:
    return sorted(tuple(ids[mask.bool()].tolist()) for b in batches for ids, mask in zip(b["input_ids"],
                                                                                         b["attention_mask"]))


def test_length_grouping_keeps_every_row_once_an_epoch_and_pads_less(smoke):
    preset, tok, rows = smoke
    epoch = TrainConfig(epochs=1, max_steps=len(rows) // 16, batch_size=16, lr=3e-3)
    model = build_model(preset.model, tok, seed=0)
    random_, grouped = (trl_batches(model, tok, rows, dataclasses.replace(epoch, length_grouped=g), preset.model)
                        for g in (False, True))
    assert _sequences(grouped) == _sequences(random_)  # the same rows, each once
    pad = {name: sum(int((1 - b["attention_mask"]).sum()) for b in batches) / sum(b["attention_mask"].numel()
                                                                                 for b in batches)
           for name, batches in (("random", random_), ("grouped", grouped))}
    assert pad["grouped"] < 0.5 * pad["random"], pad


def test_a_recipe_is_part_of_the_cache_key_of_what_it_trains():
    from synthrl.cache import cache_key

    plain, chosen = TrainConfig(), dataclasses.replace(TrainConfig(), **RECIPES[NEW])
    assert {"length_grouped", "bf16_autocast", "compiled", "attention"} <= set(to_dict(plain))
    assert to_dict(chosen)["attention"] == "eager"
    assert cache_key("pi_sft", to_dict(plain)) != cache_key("pi_sft", to_dict(chosen))


def _cells(errors: dict, coverage: dict | None = None, seeds=(0, 1, 2)) -> pd.DataFrame:
    """A merged adoption table: pi_base at 0.7, SFT's test error per (recipe, size) for every seed, and
    pi_sft's yield per recipe at every size."""
    rows = [{"recipe": "pi_base", "setting": s, "method": "pi_base", "metric": "test_error", "n_problems": 0,
             "value": 0.7, "n_test": 300} for s in ("a", "b")]
    for (name, size), err in errors.items():
        for s in ("a", "b"):
            for seed in seeds:
                rows.append({"recipe": name, "setting": s, "seed": seed, "n_problems": size, "method": "SFT",
                             "metric": "test_error", "value": err + 0.001 * seed})
                for metric, value in (("coverage", (coverage or {}).get(name, 0.8)), ("sample_accuracy", 0.5)):
                    rows.append({"recipe": name, "setting": s, "seed": seed, "n_problems": size,
                                 "method": "pi_sft", "metric": metric, "value": value})
    return pd.DataFrame(rows)


ERRORS = {(OLD, 1024): 0.55, (OLD, 4096): 0.40, (NEW, 1024): 0.555, (NEW, 4096): 0.41}


def test_the_rule_adopts_a_recipe_within_its_tolerance():
    verdict = judge(_cells(ERRORS))
    assert verdict.iloc[-1].holds and verdict.holds.all()
    assert len(verdict) == 1 + 2 * 2 + 2 * 5  # two sizes and five regime targets per setting


def test_the_rule_rejects_a_recipe_worse_at_one_size():
    verdict = judge(_cells({**ERRORS, (NEW, 4096): 0.40 + 0.02}))
    assert not verdict.iloc[-1].holds
    assert list(verdict[~verdict.holds].check.str.contains("at 4096"))[:2] == [True, True]


def test_the_rule_rejects_a_recipe_that_breaks_a_regime_target_the_old_one_met():
    verdict = judge(_cells(ERRORS, coverage={OLD: 0.8, NEW: 0.5}))
    assert not verdict.iloc[-1].holds
    assert verdict[~verdict.holds].check.str.contains("covers").sum() == 2  # both settings


def test_the_rule_does_not_adopt_on_missing_cells():
    verdict = judge(_cells({k: v for k, v in ERRORS.items() if k != (NEW, 1024)}))
    assert not verdict.iloc[-1].holds and "not measured" in set(verdict.measured)


def test_a_committed_cell_is_read_back_and_a_new_one_is_written_whole(monkeypatch, tmp_path):
    from synthrl.studies import positive_scaling

    monkeypatch.setenv("SYNTHRL_DATA", str(tmp_path))
    preset, setting = get_preset("smoke"), get_preset("smoke").scaling.settings[0]
    calls = []

    def cell(p, s, seed, size, base, score_nll):
        calls.append((p.sft.length_grouped, seed, size))
        return [{"setting": s.name, "seed": seed, "n_problems": size, "method": "SFT", "metric": "test_error",
                 "value": 0.5}]

    monkeypatch.setattr(positive_scaling, "cell", cell)
    first = recipe.adoption_cell(preset, NEW, setting, 1, 32, "base", (16, 32))
    assert calls == [(True, 1, 32)]  # the recipe's fields reached the cell's preset
    again = recipe.adoption_cell(preset, NEW, setting, 1, 32, "base", (16, 32))
    assert calls == [(True, 1, 32)]  # read back, not recomputed
    files = list((tmp_path / "results" / "probes" / ADOPTION_PROBE / "smoke").iterdir())
    assert [f.suffix for f in files] == [".csv"]  # no temporary file left
    assert [r["metric"] for r in again] == [r["metric"] for r in first] == ["test_error", "cell_wall_s"]
    assert {r["recipe"] for r in again} == {NEW} and all(r["git_commit"] for r in again)


def test_the_old_recipe_is_trls_defaults_whatever_the_preset_adopted():
    adopted = dataclasses.replace(get_preset("smoke"), sft=dataclasses.replace(get_preset("smoke").sft, **RECIPES[NEW]))
    old = recipe.recipe_preset(adopted, OLD)
    assert to_dict(old.sft) == to_dict(get_preset("smoke").sft) and to_dict(old.rft) == to_dict(get_preset("smoke").rft)
    assert recipe.recipe_preset(get_preset("smoke"), NEW).sft.attention == "eager"


def test_each_candidate_is_judged_against_the_same_old_cells_and_the_first_that_passes_is_adopted():
    both = _cells({**ERRORS, (KEPT, 1024): 0.55, (KEPT, 4096): 0.40})
    verdict = judge(both)
    assert set(verdict.candidate) == {NEW, KEPT} and adopted(both) == NEW
    first_fails = _cells({**ERRORS, (NEW, 4096): 0.43, (KEPT, 1024): 0.55, (KEPT, 4096): 0.40})
    assert adopted(first_fails) == KEPT
    assert adopted(_cells({**ERRORS, (NEW, 4096): 0.43})) is None
