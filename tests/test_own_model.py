"""Per-step data and training for a researcher's own model (`synthrl pairs`, `synthrl train`), on the
offline stand-in hub model and GSM8K-format files: the pairs load as datasets, every rejected response
ends at its first pit with no end-of-sequence token, the step labels agree with Q, per-step DPO raises
the chosen log-ratio, and the naive pairs load into TRL's DPOTrainer as they are."""
import json
from pathlib import Path

import pytest
from synthrl.config import PairsConfig
from synthrl.standin import WORLD, gsm8k_standin, write_gsm8k
from synthrl.tasks.arith import ArithWorld
from synthrl.tasks.hub import HubMathTask
# small and fixed before the run: 24 problems, 4 samples each, up to 2 negatives credited by 2 rollouts
CFG = PairsConfig(samples_per_problem=4, negatives_per_problem=2, n_rollouts=2, max_new_tokens=48, temperature=1.0)


@pytest.fixture(scope="module")
def own(tmp_path_factory, shared_home):
    """The stand-in (it has read solved GSM8K-style problems, not these), its problems, and `pairs`'s output."""
    from synthrl.cli import main

    root = tmp_path_factory.mktemp("own")
    mp = pytest.MonkeyPatch()
    mp.setenv("SYNTHRL_HOME", str(root / "runs"))
    world = ArithWorld(WORLD)
    data = write_gsm8k(root / "data", world, n_train=24, n_test=1)["train"]
    standin = gsm8k_standin(shared_home)  # built once per test run
    flags = [f"--{k.replace('_', '-')}={getattr(CFG, k)}"
             for k in ("samples_per_problem", "negatives_per_problem", "n_rollouts", "max_new_tokens", "temperature")]
    try:
        assert main(["pairs", "--model", str(standin), "--data", str(data), "--out", str(root / "pairs"),
                     "--backend", "hf", *flags]) == 0
        yield standin, data, root / "pairs", root
    finally:
        mp.undo()


def test_pairs_are_datasets_whose_rejected_side_ends_at_its_first_pit_without_eos(own):
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    from synthrl.credit import step_prefixes
    from synthrl.preference import encode_pair

    standin, _, out, _ = own
    summary = json.loads((out / "summary.json").read_text())
    pairs = load_from_disk(str(out / "per_step_pairs"))
    advantages = list(load_from_disk(str(out / "advantages")))
    assert summary["per_step_pairs"] == len(pairs) > 0 and summary["problems"] == 24
    assert summary["skipped_all_right"] + summary["skipped_all_wrong"] > 0  # skipped, and counted
    tokenizer = AutoTokenizer.from_pretrained(standin)
    for pair in pairs:
        assert pair["rejected_is_prefix"] and {"prompt", "chosen", "rejected"} <= set(pair)
        cuts = {step_prefixes(r["steps"])[r["first_pit"] + 1] for r in advantages
                if r["uid"] == pair["uid"] and r["first_pit"] == pair["pit"]}
        assert pair["rejected"] in cuts  # a credited negative of its problem, cut right after its first pit
        assert tokenizer.eos_token not in pair["rejected"]
        ids = encode_pair(tokenizer, pair)
        assert ids["rejected"][-1] != tokenizer.eos_token_id and ids["chosen"][-1] == tokenizer.eos_token_id


def test_step_labels_agree_with_q_and_every_sample_has_its_verdict(own):
    from datasets import load_from_disk

    _, data, out, _ = own
    labels, advantages = load_from_disk(str(out / "step_labels")), load_from_disk(str(out / "advantages"))
    assert len(labels) == len(advantages) > 0
    for lab, adv in zip(labels, advantages):
        assert lab["completions"] == adv["steps"] and lab["soft_labels"] == pytest.approx(adv["q"][1:])
        assert lab["labels"] == [q > 0 for q in adv["q"][1:]]  # hard: some rollout from the prefix succeeds
        assert adv["advantages"] == pytest.approx([b - a for a, b in zip(adv["q"], adv["q"][1:])])
    task = HubMathTask("gsm8k", path=data)
    problems = {p.uid: p for p in task.load("train")}
    samples = load_from_disk(str(out / "samples"))
    assert len(samples) == 24 * 4
    assert all(s["correct"] == task.is_correct(problems[s["uid"]], s["completion"]) for s in samples)


def test_train_per_step_dpo_saves_an_adapter_whose_chosen_log_ratio_rises(own):
    """The saved adapter, loaded as a user would (peft), scores the chosen responses of all pairs higher than
    the model it was trained from, and the cut negatives lower."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from synthrl.cli import main
    from synthrl.datafiles import read_jsonl
    from synthrl.preference import encode_pair, pair_logps

    standin, _, out, root = own
    saved = root / "per-step-dpo"
    assert main(["train", "per-step-dpo", "--model", str(standin), "--pairs", str(out), "--out", str(saved),
                 "--lora-r", "8", "--lr", "3e-3", "--max-steps", "12", "--batch-size", "8"]) == 0
    assert (saved / "adapter_config.json").exists() and (saved / "adapter_model.safetensors").exists()
    log = json.loads((saved / "train_log.json").read_text())["log"]
    assert log[0]["chosen_logratio"] == pytest.approx(0.0, abs=1e-4)  # the reference is the model at start
    tokenizer = AutoTokenizer.from_pretrained(saved)
    encoded = [encode_pair(tokenizer, p) for p in read_jsonl(out / "per_step_pairs.jsonl")]
    with torch.no_grad():
        ref_chosen, ref_rejected = pair_logps(AutoModelForCausalLM.from_pretrained(standin).eval(), encoded,
                                              tokenizer.pad_token_id)
        policy = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(standin), saved).eval()
        chosen, rejected = pair_logps(policy, encoded, tokenizer.pad_token_id)
    assert (chosen - ref_chosen).mean() > 0 and (rejected - ref_rejected).mean() < 0


def test_naive_pairs_load_into_trls_dpo_trainer_as_they_are(own):
    from datasets import load_from_disk
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    standin, _, out, root = own
    model, tokenizer = AutoModelForCausalLM.from_pretrained(standin), AutoTokenizer.from_pretrained(standin)
    trainer = DPOTrainer(model, args=DPOConfig(output_dir=str(root / "trl"), max_steps=1, report_to=[], bf16=False),
                         train_dataset=load_from_disk(str(out / "naive_pairs")), processing_class=tokenizer)
    assert len(trainer.train_dataset) == json.loads((out / "summary.json").read_text())["naive_pairs"] > 0


def test_bad_models_and_data_say_what_is_wrong(own, tmp_path):
    from synthrl.datafiles import DataFormatError
    from synthrl.pairs import build

    standin, data, _, _ = own
    with pytest.raises(ValueError, match="has no chat template; use prompt 'plain'"):
        build(str(standin), str(data), str(tmp_path / "a"), cfg=PairsConfig(prompt="chat"), backend="hf")
    math = tmp_path / "math.jsonl"  # the stand-in never writes a \boxed{} answer: MATH's checker reads none
    math.write_text("".join(json.dumps({"problem": json.loads(line)["question"], "solution": "\\boxed{1}"}) + "\n"
                            for line in Path(data).read_text().splitlines()))
    with pytest.raises(ValueError, match=r"the math checker read no answer in 96 of 96 samples"):
        build(str(standin), str(math), str(tmp_path / "b"), task="math", cfg=CFG, backend="hf")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "How many?"}\n')
    with pytest.raises(DataFormatError, match=r"bad\.jsonl:1: missing field\(s\) \['answer'\]"):
        build(str(standin), str(bad), str(tmp_path / "c"), cfg=CFG, backend="hf")
