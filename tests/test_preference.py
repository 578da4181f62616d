"""The preference trainer computes the paper's objectives: checked by hand on a tiny model."""
import copy
import math
import os

import pytest
import torch
from synthrl.config import ModelConfig
from synthrl.models import build_model, build_tokenizer
from synthrl.pairs import pair_row
from synthrl.preference import (
    PreferenceConfig,
    encode_pair,
    pair_logps,
    preference_loss,
    train_preference,
)
from synthrl.tasks.arith import ArithWorld, flip_first_operation

TINY = ModelConfig(hidden_size=32, n_layers=2, n_heads=2, intermediate_size=64, max_positions=160)


@pytest.fixture(scope="module")
def setup():
    world = ArithWorld()
    tok = build_tokenizer(world.vocabulary())
    problems = world.make_problems("train", 8, seed=0)
    pairs = []
    for i, p in enumerate(problems):
        negative = flip_first_operation(p.solution).rsplit("\n", 1)[0] + "\nanswer 99"
        steps = world.split_steps(negative)
        pairs.append(pair_row(world.prompt(p), p.solution, steps[0], True) if i % 2 else
                     pair_row(world.prompt(p), p.solution, negative, False))
    return tok, pairs


def hand_logp(model, ids: list[int], n_prompt: int) -> float:
    """log pi(response | prompt), token by token, one unpadded sequence."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0]
    total = 0.0
    for t in range(n_prompt, len(ids)):
        row = logits[t - 1].double()
        total += float(row[ids[t]] - torch.logsumexp(row, 0))
    return total


def test_rejected_prefix_has_no_end_token_and_whole_responses_do(setup):
    tok, pairs = setup
    for pair in pairs:
        e = encode_pair(tok, pair)
        assert e["chosen"][-1] == tok.eos_token_id
        if pair["rejected_is_prefix"]:
            assert tok.eos_token_id not in e["rejected"]
            assert "answer" not in pair["rejected"]  # cut after the first pit, before the answer
        else:
            assert e["rejected"][-1] == tok.eos_token_id


@pytest.mark.parametrize("loss", ["dpo", "dpop"])
def test_loss_equals_hand_computation(setup, loss):
    tok, pairs = setup
    policy, reference = build_model(TINY, tok, seed=1), build_model(TINY, tok, seed=2)
    cfg = PreferenceConfig(loss=loss, beta=0.5, dpop_lambda=3.0)
    encoded = [encode_pair(tok, p) for p in pairs[:4]]  # different lengths: the batch is padded
    with torch.no_grad():
        pc, pr = pair_logps(policy, encoded, tok.pad_token_id)
        rc, rr = pair_logps(reference, encoded, tok.pad_token_id)
        ours = preference_loss(pc, pr, rc, rr, cfg)
    for i, e in enumerate(encoded):
        lp = {name: hand_logp(m, e[side], e["n_prompt"]) for name, m, side in
              (("pc", policy, "chosen"), ("pr", policy, "rejected"), ("rc", reference, "chosen"),
               ("rr", reference, "rejected"))}
        chosen_ratio = lp["pc"] - lp["rc"]
        margin = chosen_ratio - (lp["pr"] - lp["rr"])
        if loss == "dpop":
            margin -= 3.0 * max(0.0, -chosen_ratio)
        expected = math.log1p(math.exp(-0.5 * margin))  # -log sigmoid(beta * margin)
        assert float(ours[i]) == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_dpop_penalises_only_a_falling_chosen_likelihood():
    cfg_dpo, cfg_dpop = PreferenceConfig(loss="dpo"), PreferenceConfig(loss="dpop", dpop_lambda=5.0)
    ref_c, ref_r = torch.tensor([-10.0, -10.0]), torch.tensor([-12.0, -12.0])
    pol_c, pol_r = torch.tensor([-9.0, -11.0]), torch.tensor([-14.0, -14.0])  # chosen up; chosen down
    dpo = preference_loss(pol_c, pol_r, ref_c, ref_r, cfg_dpo)
    dpop = preference_loss(pol_c, pol_r, ref_c, ref_r, cfg_dpop)
    assert dpop[0] == pytest.approx(float(dpo[0])) and dpop[1] > dpo[1]


def test_training_raises_the_margin_and_leaves_the_reference_frozen(setup, capfd):
    tok, pairs = setup
    reference = build_model(TINY, tok, seed=3)
    frozen = copy.deepcopy(reference.state_dict())
    policy = copy.deepcopy(reference)
    cfg = PreferenceConfig(lr=3e-3, batch_size=4, max_steps=30)
    encoded = [encode_pair(tok, p) for p in pairs]
    with torch.no_grad():
        c0, r0 = pair_logps(policy, encoded, tok.pad_token_id)
    result = train_preference(policy, reference, tok, pairs, cfg)
    # a progress bar over the steps (tqdm reads TQDM_DISABLE once, at import: a user who set it sees none)
    assert "preference training:" in capfd.readouterr().err or os.environ.get("TQDM_DISABLE")
    with torch.no_grad():
        c1, r1 = pair_logps(result.model, encoded, tok.pad_token_id)
    assert (c1 - r1).mean() > (c0 - r0).mean() + 1.0
    assert result.losses[-1][1] < result.losses[0][1]
    assert all(torch.equal(v, frozen[k]) for k, v in reference.state_dict().items())


def test_logged_margins_match_a_hand_computation(setup):
    """The first step's log is of the batch before the update: with every pair in one batch, its
    log-ratios, margin and accuracy are the hand-computed ones of the starting policy."""
    tok, pairs = setup
    policy, reference = build_model(TINY, tok, seed=1), build_model(TINY, tok, seed=2)
    cfg = PreferenceConfig(beta=0.5, lr=1e-3, batch_size=len(pairs), max_steps=2)
    hand = []
    for e in (encode_pair(tok, p) for p in pairs):
        lp = {k: hand_logp(m, e[side], e["n_prompt"]) for k, m, side in
              (("pc", policy, "chosen"), ("pr", policy, "rejected"), ("rc", reference, "chosen"),
               ("rr", reference, "rejected"))}
        hand.append((lp["pc"] - lp["rc"], lp["pr"] - lp["rr"]))
    result = train_preference(policy, reference, tok, pairs, cfg)
    first = result.log[0]
    chosen, rejected = (sum(h[i] for h in hand) / len(hand) for i in (0, 1))
    assert first["chosen_logratio"] == pytest.approx(chosen, abs=1e-4)
    assert first["rejected_logratio"] == pytest.approx(rejected, abs=1e-4)
    assert first["reward_margin"] == pytest.approx(0.5 * (chosen - rejected), abs=1e-4)
    assert first["pair_accuracy"] == pytest.approx(sum(c > r for c, r in hand) / len(hand))
    assert first["loss"] == pytest.approx(sum(math.log1p(math.exp(-0.5 * (c - r))) for c, r in hand) / len(hand),
                                          rel=1e-4)
    assert [r["step"] for r in result.log] == [1, 2] and all(r["grad_norm"] > 0 for r in result.log)


def test_warmup_schedule_and_clipping(setup):
    tok, pairs = setup
    policy, reference = build_model(TINY, tok, seed=1), build_model(TINY, tok, seed=2)
    cfg = PreferenceConfig(lr=1e-3, batch_size=4, max_steps=10, warmup_ratio=0.2, lr_scheduler="linear",
                           max_grad_norm=1e-3)
    applied = []  # the norm of the gradient the optimizer stepped with (still in .grad after the step)

    def on_step(step, model):
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        if step > 0:
            applied.append(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))))

    log = train_preference(policy, reference, tok, pairs, cfg, on_step=on_step).log
    assert [r["lr"] for r in log[:3]] == pytest.approx([0.0, 5e-4, 1e-3])  # 2 warmup steps
    assert log[-1]["lr"] == pytest.approx(1e-3 / 8)  # then linear decay to 0 over 8 steps
    assert len(applied) == 10 and max(applied) <= 1e-3 * 1.001  # clipped to max_grad_norm
    assert all(r["grad_norm"] > 1e-2 for r in log)  # the log keeps the norm before clipping
    with pytest.raises(ValueError):
        PreferenceConfig(lr_scheduler="step")


def test_lora_policy_is_scored_against_its_disabled_adapters(setup):
    """With LoRA, the reference is pi_sft with the adapters off: no second model. Training moves only
    the adapters, and the disabled-adapter log-probs stay pi_sft's."""
    from peft import LoraConfig, get_peft_model

    tok, pairs = setup
    base = build_model(TINY, tok, seed=3)
    encoded = [encode_pair(tok, p) for p in pairs]
    with torch.no_grad():
        c0, r0 = pair_logps(base, encoded, tok.pad_token_id)
    frozen = {k: v.clone() for k, v in base.state_dict().items()}
    policy = get_peft_model(copy.deepcopy(base), LoraConfig(r=4, lora_alpha=8, target_modules="all-linear",
                                                            lora_dropout=0.0, task_type="CAUSAL_LM"))
    result = train_preference(policy, None, tok, pairs, PreferenceConfig(lr=3e-3, batch_size=4, max_steps=30))
    assert result.log[0]["chosen_logratio"] == pytest.approx(0.0, abs=1e-5)  # B = 0 at the start: policy = pi_sft
    with torch.no_grad():
        c1, r1 = pair_logps(result.model, encoded, tok.pad_token_id)
        with result.model.disable_adapter():
            cr, rr = pair_logps(result.model, encoded, tok.pad_token_id)
    assert torch.allclose(cr, c0, atol=1e-5) and torch.allclose(rr, r0, atol=1e-5)
    assert (c1 - r1).mean() > (c0 - r0).mean() + 1.0
    merged = result.model.merge_and_unload()
    assert not torch.equal(merged.state_dict()["model.layers.0.self_attn.q_proj.weight"],
                           frozen["model.layers.0.self_attn.q_proj.weight"])
    with pytest.raises(ValueError, match="no reference"):
        train_preference(copy.deepcopy(base), None, tok, pairs, PreferenceConfig(max_steps=1))


def test_loops_take_every_example_once_a_pass_and_stop_at_the_total():
    from synthrl.loop import shuffled_batches, total_steps

    assert total_steps(21, 4, 2.5, -1) == 15 and total_steps(21, 4, 2.5, 3) == 3 and total_steps(1, 8, 0.1, -1) == 1
    batches = list(shuffled_batches(10, 4, 7, seed=0))
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2, 4]  # a pass ends with a short batch
    for first in (0, 3):
        assert sorted(torch.cat(batches[first:first + 3]).tolist()) == list(range(10))
    assert torch.equal(torch.cat(batches[:3]), torch.cat(list(shuffled_batches(10, 4, 3, seed=0))))
    assert not torch.equal(torch.cat(batches[:3]), torch.cat(batches[3:6]))  # a fresh order each pass
