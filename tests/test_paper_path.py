"""The `paper` preset's path end to end on a pretrained stand-in, on a CPU, offline:
GSM8K-format files, a tiny Llama with a BPE tokenizer saved as a hub-style folder and loaded as a
pretrained model, then the negative-data study's cell on it: LoRA SFT, sampling, D+ and D-, credit
rollouts, per-step DPO on pi_sft's own adapter, evaluation."""
import dataclasses
import hashlib
import importlib.util
import json
from pathlib import Path

import pytest
import torch
from synthrl import cells, models, pipeline
from synthrl.config import (
    CreditConfig,
    NegativeConfig,
    PreferenceConfig,
    SampleConfig,
    ScalingConfig,
    Setting,
    TrainConfig,
)
from synthrl.presets import get_preset
from synthrl.standin import MODEL, WORLD, gsm8k_row, gsm8k_standin, train_bpe, write_gsm8k
from synthrl.studies import negative_scaling
from synthrl.tasks.arith import ArithWorld
from synthrl.tasks.hub import HubMathTask

SIZE = 16


def test_gsm8k_rows_round_trip_through_the_hub_loader(tmp_path):
    world = ArithWorld(WORLD)
    problem = world.make_problems("train", 1, 0)[0]
    row = gsm8k_row(problem)
    assert row["answer"].endswith(f"#### {problem.answer}") and "<<" in row["answer"]
    files = write_gsm8k(tmp_path, world, n_train=5, n_test=3)
    task = HubMathTask("gsm8k", files=files)
    train, test = task.load("train"), task.load("test")
    assert len(train) == 5 and len(test) == 3 and not {p.question for p in train} & {p.question for p in test}
    loaded = train[0]
    assert "<<" not in loaded.solution and loaded.solution.endswith(f"The answer is {loaded.answer}")
    assert task.is_correct(loaded, loaded.solution)
    with pytest.raises(FileNotFoundError, match="no local file for the 'dev' split"):
        task.load("dev")


def test_bpe_tokenizer_round_trips_text_it_was_not_trained_on():
    tok = train_bpe(["Question: Ann has 3 apples .\nAnswer:\n3 + 4 = 7 .\nThe answer is 7"] * 20, vocab_size=300)
    text = "Question: Zed has 1,072 pears?\n#### -5 \\boxed{\\frac12}"
    assert tok.decode(tok(text)["input_ids"]) == text
    assert tok.eos_token == tok.pad_token == "<|endoftext|>"


def _paper_cell(root: Path, shared: Path, **model):
    """The stand-in hub model and data, the paper preset pointed at them (its model fields replaced by
    `model`), the stand-in's weights' hash before any training, and one negative-study cell's rows."""
    world = ArithWorld(WORLD)
    files = write_gsm8k(root / "data", world, n_train=SIZE, n_test=24)
    # the stand-in has read GSM8K-style solved problems (not D_syn's or the test's), as a math base model has
    standin = gsm8k_standin(shared)
    model = {"lora_r": 8, "load_in_4bit": False, "bf16": False, **model}
    preset = get_preset(
        "paper", data_files=tuple((split, str(path)) for split, path in files.items()),
        model=dataclasses.replace(get_preset("paper").model, pretrained=str(standin),
                                  max_positions=MODEL.max_positions, **model),
        n_train=SIZE, n_test=24, sft=TrainConfig(epochs=2.0, batch_size=8, lr=3e-3),
        sampling=SampleConfig(n=4, temperature=1.0, max_new_tokens=48, batch_size=64),
        scaling=ScalingConfig(sizes=(SIZE, 2 * SIZE), seeds=(0,), epochs=2.0, min_steps=10, workers=1,
                              settings=(Setting("gsm8k", task="gsm8k"),)),
        negative=NegativeConfig(sizes=(SIZE,), seeds=(0,), negatives_per_problem=2, first_pits=("min",), methods=(),
                                credit=CreditConfig(n_rollouts=2),
                                dpo=PreferenceConfig(lr=1e-3, batch_size=8, warmup_ratio=0.0, lr_scheduler="constant")))
    weights = hashlib.sha256((standin / "model.safetensors").read_bytes()).hexdigest()  # before any training
    base = pipeline.pi_base(preset)
    return preset, standin, weights, negative_scaling.cell(preset, preset.scaling.settings[0], 0, SIZE, base)


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory, shared_home):
    root = tmp_path_factory.mktemp("paper")
    mp = pytest.MonkeyPatch()
    mp.setenv("SYNTHRL_HOME", str(root / "runs"))
    try:
        yield *_paper_cell(root, shared_home), root / "runs"
    finally:
        mp.undo()


def test_the_stand_in_loads_as_a_pretrained_model_and_sft_trains_a_lora_adapter_of_it(paper_run, monkeypatch):
    preset, standin, weights, _, home = paper_run
    monkeypatch.setenv("SYNTHRL_HOME", str(home))  # the cell's run cache: its stages are read, not re-run
    assert pipeline.pi_base(preset) == str(standin)  # a pretrained model: its folder, as a hub id
    sp = cells.setting_preset(preset, preset.scaling.settings[0])
    rows = pipeline.sft_rows(sp, pipeline.d_syn(sp, n=SIZE, seed=0))
    sft = Path(cells.finetune(sp, "pi_sft", str(standin), rows, 0, len(rows)))  # cached
    assert sft.is_relative_to(home)
    adapter = json.loads((sft / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str(standin) and adapter["r"] == 8
    assert not (sft / "model.safetensors").exists()  # an adapter, not a copy of the model
    for training in (True, False):  # loaded to train further: its adapter trains, the base stays frozen
        model, _ = models.load_pretrained(preset.model, sft, for_training=training)
        trainable = [n for n, p in model.named_parameters() if p.requires_grad]
        assert all("lora_" in n for n in trainable) and bool(trainable) == training
    losses = [loss for _, loss in pipeline.train_log(str(sft))["losses"]]
    assert losses[-1] < losses[0]
    assert hashlib.sha256((standin / "model.safetensors").read_bytes()).hexdigest() == weights  # base untouched
    problems = pipeline.d_syn(sp, n=SIZE, seed=0)
    sampled = pipeline.samples(sp, str(sft), problems, 0, progress=False)  # cached by the cell
    assert {r["correct"] for r in sampled} == {True, False}  # pi_sft writes positives and negatives
    task, by_uid = pipeline.make_task(sp), {p.uid: p for p in problems}
    plus = pipeline.d_plus(sampled, sp.sampling.positives_per_problem)
    assert plus and all(task.is_correct(by_uid[r["uid"]], r["completion"]) for r in plus)  # D+: verified only


def test_per_step_dpo_trains_pi_sfts_adapter_against_pi_sft_itself(paper_run):
    rows = paper_run[3]
    by = {(r["method"], r["metric"]): r for r in rows if "step" not in r or r["step"] == 1}
    method = negative_scaling.per_step_name("min")
    assert by[("D-", "negatives")]["value"] > 0 and by[("D-", "rollouts")]["value"] > 0
    assert (method, "test_error") in by, {k: v["value"] for k, v in by.items()}  # else no pair was built
    assert 0.0 <= by[(method, "test_error")]["value"] <= 1.0
    # at the first step the policy is pi_sft: its log-ratios against the reference are exactly 0 (with the
    # adapter disabled, the reference would be the stand-in base, and they would not be)
    first = {r["metric"]: r["value"] for r in rows if r["method"] == method and r.get("step") == 1}
    assert abs(first["dpo_chosen_logratio"]) < 1e-5 and abs(first["dpo_rejected_logratio"]) < 1e-5
    margins = [r["value"] for r in rows if r["method"] == method and r["metric"] == "dpo_reward_margin"]
    assert len(margins) > 1 and margins[-1] > margins[0]  # DPO separates chosen from rejected


def test_d_syn_written_by_the_stand_in_keeps_only_agreed_new_problems(paper_run, monkeypatch):
    """The paper's first stage through the Sampler interface: the stand-in writes new problems like
    GSM8K's and solves each 4 times; every candidate is accounted for, and a kept one is new, parsed,
    and solved by its own solution."""
    from synthrl.synthesis import SynthesisConfig

    preset, standin, _, _, home = paper_run
    monkeypatch.setenv("SYNTHRL_HOME", str(home))
    task = pipeline.make_task(preset)
    seeds = task.load("train")[:8]
    cfg = SynthesisConfig(n_candidates=12, k=4, shots=2, max_new_tokens=64)
    kept = pipeline.d_syn_written(preset, str(standin), seeds, cfg)
    folder = next((home / "d_syn_written").iterdir())
    record = [json.loads(line) for line in (folder / "record.jsonl").read_text().splitlines()]
    assert len(record) == cfg.n_candidates and {r["why"] for r in record} <= {
        "agreed", "answers disagree", "no answer parses", "no question", "a seed problem", "a repeat"}
    assert [p.uid for p in kept] == [r["uid"] for r in record if r["kept"]]
    for p in kept:
        assert p.question not in {s.question for s in seeds} and task.is_correct(p, p.solution)


@pytest.mark.skipif(not torch.cuda.is_available() or importlib.util.find_spec("bitsandbytes") is None,
                    reason="QLoRA needs a CUDA GPU and bitsandbytes (the gpu extra): run this file on a GPU machine")
def test_qlora_runs_the_paper_cell_on_a_4bit_stand_in(tmp_path, shared_home):
    """The paper's recipe as the `paper` preset sets it (NF4 base weights, double quantization, bf16
    compute, LoRA adapters) through the whole cell on the stand-in: SFT, sampling, rollouts, per-step DPO."""
    import bitsandbytes as bnb

    preset, standin, weights, rows = _paper_cell(tmp_path, shared_home, load_in_4bit=True, bf16=True)
    assert preset.model.load_in_4bit and preset.model.bf16
    sp = cells.setting_preset(preset, preset.scaling.settings[0])
    d_syn = pipeline.sft_rows(sp, pipeline.d_syn(sp, n=SIZE, seed=0))
    sft = Path(cells.finetune(sp, "pi_sft", str(standin), d_syn, 0, len(d_syn)))  # cached by the cell
    assert json.loads((sft / "adapter_config.json").read_text())["r"] == 8
    losses = [loss for _, loss in pipeline.train_log(str(sft))["losses"]]
    assert losses[-1] < losses[0]
    model, _ = models.load_pretrained(preset.model, sft)
    quantized = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert quantized and all(m.weight.quant_type == "nf4" for m in quantized)  # the base is held in 4 bits
    assert hashlib.sha256((standin / "model.safetensors").read_bytes()).hexdigest() == weights
    method = negative_scaling.per_step_name("min")
    first = {r["metric"]: r["value"] for r in rows if r["method"] == method and r.get("step") == 1}
    # pi_sft's own adapter at its first DPO step: log-ratios 0 up to bf16 rounding of a 4-bit forward
    assert abs(first["dpo_chosen_logratio"]) < 0.05 and abs(first["dpo_rejected_logratio"]) < 0.05
    margins = [r["value"] for r in rows if r["method"] == method and r["metric"] == "dpo_reward_margin"]
    assert len(margins) > 1 and margins[-1] > margins[0]
    errors = [r["value"] for r in rows if r["method"] == method and r["metric"] == "test_error"]
    assert errors and all(0.0 <= e <= 1.0 for e in errors)
