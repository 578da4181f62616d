"""Precision and engines behind `make bench`: bf16 detection and its invariance against fp32 (training
and sampling), CTranslate2 against our sampler on the same model, and the benchmark table."""
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from synthrl import hardware
from synthrl.bench.suite import BF16_LOSS_TOLERANCE, table
from synthrl.credit import step_prefixes
from synthrl.models import build_model, build_tokenizer, save_checkpoint
from synthrl.config import ModelConfig, TrainConfig
from synthrl.presets import get_preset
from synthrl.sampling import HFSampler, SamplingSpec
from synthrl.tasks.arith import ArithWorld
from synthrl.train import completion_rows, sft, sft_config

CPUINFO = "processor\t: 0\nflags\t\t: fpu sse2 avx512f {extra}\nbogomips\t: 4000\n"


def test_native_bf16_is_read_from_the_cpu_flags():
    assert hardware.native_bf16(hardware.cpu_flags(CPUINFO.format(extra="avx512_bf16")))
    assert hardware.native_bf16(hardware.cpu_flags(CPUINFO.format(extra="amx_tile amx_bf16")))
    assert not hardware.native_bf16(hardware.cpu_flags(CPUINFO.format(extra="avx2")))
    assert hardware.cpu_flags("no flags line here") == set()


@pytest.mark.parametrize("native", [True, False])
def test_training_precision_follows_the_preset_and_else_the_cpu(monkeypatch, native):
    monkeypatch.setattr(hardware, "native_bf16", lambda flags=None: native)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = ModelConfig()
    assert hardware.train_bf16(cfg) is False  # the default: fp32 (the bench measured bf16 slower here)
    assert hardware.train_bf16(dataclasses.replace(cfg, cpu_bf16=True)) is True
    assert hardware.train_bf16(dataclasses.replace(cfg, cpu_bf16=None)) is native
    assert hardware.train_bf16(get_preset("gpu").model) is native
    args = sft_config(TrainConfig(), dataclasses.replace(cfg, cpu_bf16=True), 0, "/tmp/x", 64)
    assert args.bf16 and args.mixed_precision == "bf16"  # what makes TRL's trainer autocast


@pytest.fixture(scope="module")
def smoke_world():
    preset = get_preset("smoke")
    world = ArithWorld(preset.world)
    return preset, world, build_tokenizer(world.vocabulary())


def _train(preset, world, tok, bf16: bool, steps: int = 50):
    problems = world.make_problems("train", 16 * steps, seed=0)
    rows = completion_rows([world.prompt(p) for p in problems], [p.solution for p in problems])
    cfg = dataclasses.replace(preset.model, cpu_bf16=bf16, bf16=bf16)  # on a CPU, and on a GPU
    return sft(build_model(cfg, tok, seed=0), tok, rows, TrainConfig(epochs=1, max_steps=steps, batch_size=16,
                                                                    lr=3e-3), cfg)


def test_bf16_training_stays_within_the_stated_tolerance_of_fp32(smoke_world):
    """A golden loss trajectory: 50 steps on the smoke model under bf16 autocast against fp32, same
    data, seed and schedule; every logged loss within BF16_LOSS_TOLERANCE (nats). The curves must also
    differ, or autocast did not run (TRL ignores a bf16 flag set after its config is built)."""
    preset, world, tok = smoke_world
    fp32, bf16 = (_train(preset, world, tok, bf16=b) for b in (False, True))
    a, b = np.array([x for _, x in fp32.losses]), np.array([x for _, x in bf16.losses])
    assert len(a) == len(b) >= 10 and a[-1] < 0.7 * a[0]
    gap = np.abs(a - b).max()
    assert 0 < gap <= BF16_LOSS_TOLERANCE, gap


def test_bf16_sampling_keeps_next_token_distributions_close(smoke_world):
    """Sampling under bf16 autocast: the next-token log-probabilities of a trained smoke model stay within
    0.1 nats of fp32's on the tokens that carry 99% of the mass, and greedy answers mostly agree."""
    preset, world, tok = smoke_world
    model = _train(preset, world, tok, bf16=False, steps=30).model.eval()
    prompts = [world.prompt(p) for p in world.make_problems("test", 32, seed=1)]
    enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    autocast = torch.autocast(model.device.type, dtype=torch.bfloat16)  # the GPU's, where TRL trained on one
    with torch.no_grad():
        fp32 = torch.log_softmax(model(**enc).logits[:, -1].float(), -1)
        with autocast:
            bf16 = torch.log_softmax(model(**enc).logits[:, -1].float(), -1)
    likely = fp32.exp() > 0.01
    assert (fp32 - bf16).abs()[likely].max() < 0.1
    sampler = HFSampler(model, tok, batch_size=32)
    spec = SamplingSpec(n=1, temperature=0.0, max_new_tokens=preset.sampling.max_new_tokens)
    greedy = sampler.sample(prompts, spec)
    with torch.autocast(model.device.type, dtype=torch.bfloat16):
        greedy_bf16 = sampler.sample(prompts, spec)
    assert np.mean([x == y for x, y in zip(greedy, greedy_bf16)]) >= 0.75


def test_ctranslate2_decodes_what_our_sampler_decodes(smoke_world, tmp_path):
    """The same checkpoint converted to CTranslate2: greedy continuations of prompts and step prefixes
    equal ours token for token; sampled ones come n per input and stop at max_new_tokens."""
    pytest.importorskip("ctranslate2", reason="CTranslate2 is in the bench and dev extras")
    from synthrl.bench.ct2 import CT2Sampler, convert

    preset, world, tok = smoke_world
    model = _train(preset, world, tok, bf16=False, steps=30).model.eval()
    checkpoint = save_checkpoint(model, tok, tmp_path / "model")
    engine = CT2Sampler(convert(checkpoint, tmp_path / "ct2"), tok, batch_size=16)
    problems = world.make_problems("test", 12, seed=2)
    prompts = [world.prompt(p) for p in problems]
    prefixes = [step_prefixes(world.split_steps(p.solution))[i % 2] for i, p in enumerate(problems)]
    spec = SamplingSpec(n=1, temperature=0.0, max_new_tokens=preset.sampling.max_new_tokens)
    ours = HFSampler(model, tok, batch_size=16).sample(prompts, spec, prefixes)
    assert engine.sample(prompts, spec, prefixes) == ours
    sampled = engine.sample(prompts, SamplingSpec(n=3, temperature=1.0, max_new_tokens=4))
    assert [len(s) for s in sampled] == [3] * len(prompts)
    assert all(len(tok(x, add_special_tokens=False)["input_ids"]) <= 4 for s in sampled for x in s)


def test_bench_table_names_each_ratios_same_run_baseline():
    def row(part, method, metric, value, **kw):
        return {"part": part, "method": method, "metric": metric, "value": value,
                **{k: kw.get(k, np.nan) for k in ("baseline", "model", "precision", "rows_decoded")}}

    model = "1.00M, cpu preset"
    trl = dict(model=model)
    rows = [row("limit", "matmul 2048^3", "gflop_per_s", 100.0, precision="fp32"),
            row("limit", "matmul 2048^3", "gflop_per_s", 400.0, precision="bf16")]
    for p, tps in (("fp32", 1000.0), ("bf16", 800.0)):
        rows += [row("training", "TRL SFTTrainer", "tokens_per_s", tps, precision=p, **trl),
                 row("training", "TRL SFTTrainer", f"mfu_{p}", 0.1, precision=p, **trl)]
    rows += [row("training", "TRL SFTTrainer", "speedup", 0.8, precision="bf16", baseline="TRL SFTTrainer fp32", **trl),
             row("training", "TRL SFTTrainer", "max_loss_gap", 0.01, precision="bf16", baseline="TRL SFTTrainer fp32",
                 **trl),
             row("sampling", "batched generate, greedy", "tokens_per_s", 5000.0, precision="fp32"),
             row("sampling", "batched generate, greedy", "speedup", 10.0, precision="fp32", baseline="one"),
             row("sampling", "batched generate, greedy", "same_outputs", 1.0, precision="fp32", baseline="one"),
             row("sampling", "batched generate, greedy", "speedup", 0.5, precision="bf16", baseline="x"),
             row("sampling", "batched generate, greedy", "same_outputs", 0.9, precision="bf16", baseline="x")]
    for way, b, s in (("naive", 8, 6.0), ("naive", 64, 9.0), ("ours", 8, 2.0), ("ours", 64, 1.0)):
        rows += [row("rollouts", way, "seconds", s, rows_decoded=b), row("rollouts", way, "tokens_per_s", 100 / s,
                                                                          rows_decoded=b),
                 row("rollouts", way, "mean_q", 0.3, rows_decoded=b)]
    rows += [row("rollouts", "ours", "speedup", 3.0, baseline="naive at 8 rows", rows_decoded=8),
             row("rollouts", "ours", "speedup", 6.0, baseline="naive at its fastest, 8 rows", rows_decoded=64),
             row("decoding", "linear layers alone, 64 rows", "tokens_per_s", 1e5),
             row("decoding", "ours", "fraction_of_floor", 0.25, baseline="linear layers alone, 64 rows")]
    shown = table(pd.DataFrame(rows))
    text = "\n".join(" | ".join(r) for r in shown.astype(str).values)
    assert "**0.80×** TRL fp32" in text and "losses within 0.0100 of fp32's (tolerance" in text
    assert "ours (8 rows) vs naive at 8 rows | **3.00×**" in text
    assert "ours (64 rows) vs naive at its fastest, 8 rows | **6.00×**" in text
    assert "rollouts, naive, at each batch size (seconds) | 8 rows 6.0 s; 64 rows 9.0 s | fastest at 8 rows" in text
    assert "ours reaches 25% of it" in text
    assert "CTranslate2" not in text  # not measured, not shown
    with pytest.raises(KeyError, match="0 rows"):
        table(pd.DataFrame(rows[2:]))  # no limit measured
