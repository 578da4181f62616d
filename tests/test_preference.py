"""The preference trainer computes the paper's objectives: checked by hand on a tiny model."""
import copy
import math

import pytest
import torch

from synthrl.models import build_model, build_tokenizer
from synthrl.preference import (PreferenceConfig, encode_pair, naive_pair, pair_logps, per_step_pair,
                                preference_loss, train_preference)
from synthrl.presets import ModelConfig
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
        pairs.append(per_step_pair(world.prompt(p), p.solution, steps, 0) if i % 2 else
                     naive_pair(world.prompt(p), p.solution, negative))
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


def test_training_raises_the_margin_and_leaves_the_reference_frozen(setup):
    tok, pairs = setup
    reference = build_model(TINY, tok, seed=3)
    frozen = copy.deepcopy(reference.state_dict())
    policy = copy.deepcopy(reference)
    cfg = PreferenceConfig(lr=3e-3, batch_size=4, max_steps=30)
    encoded = [encode_pair(tok, p) for p in pairs]
    with torch.no_grad():
        c0, r0 = pair_logps(policy, encoded, tok.pad_token_id)
    result = train_preference(policy, reference, tok, pairs, cfg)
    with torch.no_grad():
        c1, r1 = pair_logps(result.model, encoded, tok.pad_token_id)
    assert (c1 - r1).mean() > (c0 - r0).mean() + 1.0
    assert result.losses[-1][1] < result.losses[0][1]
    assert all(torch.equal(v, frozen[k]) for k, v in reference.state_dict().items())
