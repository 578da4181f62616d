"""The negative-data study's training data (synthrl.pairs, synthrl.awr): D-, per-step pairs cut at a
pit (estimated or exact), naive pairs, AWR weights and advantage filtering, checked by hand."""
import math

import numpy as np
import pytest
import torch

from synthrl import pairs as P
from synthrl.awr import encode_weighted, train_awr, weighted_nll
from synthrl.credit import TraceCredit, bok
from synthrl.models import build_model, build_tokenizer
from synthrl.preference import encode_pair
from synthrl.config import ModelConfig, TrainConfig
from synthrl.tasks.arith import ArithConfig, ArithWorld, flip_first_operation

TINY = ModelConfig(hidden_size=32, n_layers=2, n_heads=2, intermediate_size=64, max_positions=160)
WORLD = ArithWorld(ArithConfig(min_steps=3, max_steps=3))


def negative_of(solution: str) -> str:
    """The solution with its first operation swapped (a false step) and a wrong final answer."""
    return flip_first_operation(solution).rsplit("\n", 1)[0] + "\nanswer 99"


@pytest.fixture(scope="module")
def data():
    problems = WORLD.make_problems("train", 6, seed=0)
    rows = []
    for p in problems:
        wrong = negative_of(p.solution)
        prompt = WORLD.prompt(p)
        rows += [{"uid": p.uid, "prompt": prompt, "completion": c, "correct": WORLD.is_correct(p, c)}
                 for c in (p.solution, wrong, p.solution + " ", wrong, wrong.replace("\n", " \n "))]
    return problems, rows


def test_d_minus_keeps_distinct_incorrect_samples_up_to_the_cap(data):
    problems, rows = data
    negatives = P.d_minus(rows, per_problem=8)
    assert all(not WORLD.is_correct(next(p for p in problems if p.uid == r["uid"]), r["completion"])
               for r in negatives)
    # the flipped solution, its repeat and its re-spaced copy are one negative per problem
    assert [r["uid"] for r in negatives] == [p.uid for p in problems]
    assert len(P.d_minus(rows + rows, per_problem=1)) == len(negatives)


def test_oracle_cut_is_the_exact_first_wrong_step_and_the_pair_ends_there_without_eos(data):
    problems, rows = data
    tok = build_tokenizer(WORLD.vocabulary())
    negatives = P.d_minus(rows)
    by_uid = {p.uid: p for p in problems}
    pits = P.oracle_pits(WORLD, by_uid, negatives)
    for r, pit in zip(negatives, pits):
        truth = by_uid[r["uid"]].solution.split("\n")
        flipped = [i for i, (a, b) in enumerate(zip(truth, r["completion"].split("\n"))) if a != b]
        assert pit == flipped[0]  # the line whose operation was swapped, and nothing earlier
    chosen = P.chosen_by_problem("teacher", problems, [])
    built = P.per_step_pairs(WORLD, negatives, pits, chosen)
    assert len(built) == len(negatives)
    for pair in built:
        steps = WORLD.split_steps(pair["rejected"])
        assert len(steps) == pair["pit"] + 1 and pair["rejected"].endswith("\n")
        assert WORLD.label_steps(by_uid[pair["uid"]], pair["rejected"])[-1] == "wrong"
        e = encode_pair(tok, pair)
        assert tok.eos_token_id not in e["rejected"] and e["chosen"][-1] == tok.eos_token_id
        assert tok.decode(e["rejected"][e["n_prompt"]:]).split("\n")[-2].strip() == steps[-1]


def test_pairs_skip_negatives_without_a_pit_or_a_positive_and_use_every_positive(data):
    problems, rows = data
    negatives = [{"uid": "a", "prompt": "x", "completion": "1\n2\nanswer 3"}] * 3 + \
                [{"uid": "b", "prompt": "y", "completion": "4\nanswer 5"}]
    chosen = {"a": ["p1", "p2"]}
    built = P.per_step_pairs(WORLD, negatives, [0, None, 1, 0], chosen)
    assert [(p["uid"], p["chosen"], p["rejected"]) for p in built] == [("a", "p1", "1\n"), ("a", "p1", "1\n2\n")]
    naive = P.naive_pairs(negatives, chosen)
    assert [p["chosen"] for p in naive] == ["p1", "p2", "p1"] and not any(p["rejected_is_prefix"] for p in naive)
    with pytest.raises(ValueError, match="pit 5"):
        P.cut_after(["a", "b"], 5)
    with pytest.raises(ValueError, match="chosen source"):
        P.chosen_by_problem("gpt-4", problems, [])


def test_self_chosen_solutions_are_pi_sft_positives(data):
    problems, rows = data
    from synthrl.pipeline import d_plus

    chosen = P.chosen_by_problem("self", problems, d_plus(rows, 4))
    assert set(chosen) == {p.uid for p in problems}
    assert all(WORLD.is_correct(p, c) for p in problems for c in chosen[p.uid])


def credit_of(p: list[float], n: int = 20) -> TraceCredit:
    """A hand-made trace whose prefixes succeeded at plain rates p (n rollouts each)."""
    outcomes = [[True] * round(x * n) + [False] * (n - round(x * n)) for x in p]
    return TraceCredit("u", [f"s{i}" for i in range(len(p) - 1)], outcomes, [None] * len(p))


def test_awr_weights_are_exp_advantage_over_beta():
    p = [0.5, 0.8, 0.1, 0.0]
    q = [1 - (1 - x) ** 5 for x in p]  # BoK with K = 5, by hand
    expected = [min(math.exp((q[i + 1] - q[i]) / 0.5), 20.0) for i in range(3)]
    assert P.awr_weights(credit_of(p), beta=0.5) == pytest.approx(expected)
    assert P.awr_weights(credit_of([0.0, 1.0]), beta=0.1)[0] == 20.0  # exp(10) clipped (Peng et al.)
    with pytest.raises(ValueError):
        P.awr_weights(credit_of(p), beta=0.0)


def test_advantage_filter_drops_exactly_the_bottom_half():
    # minimum step advantages (BoK): the worst drops are traces 4 and 1, then 2 and 5 tie (the earlier, 2, goes)
    plain = [[0.5, 0.6], [0.5, 0.0], [0.5, 0.3, 0.3], [0.2, 0.4, 0.6], [0.9, 0.0, 0.0], [0.5, 0.5, 0.3]]
    credits = [credit_of(p) for p in plain]
    worst = [float(np.diff(bok(np.array(p))).min()) for p in plain]
    kept = P.advantage_filter(credits, drop=0.5)
    assert len(kept) == 3
    assert max(worst[i] for i in range(6) if i not in kept) <= min(worst[i] for i in kept)
    assert kept == [0, 3, 5]
    assert P.advantage_filter(credits[:5], drop=0.5) == [0, 2, 3]  # floor(2.5) = 2 dropped
    assert P.advantage_filter(credits, drop=0.0) == list(range(6))


def test_awr_tokens_carry_their_steps_weights():
    tok = build_tokenizer(WORLD.vocabulary())
    steps = ["Bob has 3 apples .", "3 + 4 = 7", "answer 7"]
    e = encode_weighted(tok, "question", steps, [0.5, 2.0, 3.0])
    whole = tok("question", add_special_tokens=False)["input_ids"] + \
        tok("\n".join(steps), add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    assert e["ids"] == whole
    n_prompt = len(tok("question", add_special_tokens=False)["input_ids"])
    assert e["weights"] == [0.0] * n_prompt + [0.5] * 5 + [2.0] * 6 + [3.0] * 3 + [3.0]


def test_awr_learns_the_weighted_trace_not_the_zero_weighted_one():
    tok = build_tokenizer(WORLD.vocabulary())
    model = build_model(TINY, tok, seed=0)
    good = {"prompt": "question", "steps": ["3 + 4 = 7", "answer 7"], "weights": [1.0, 1.0]}
    bad = {"prompt": "question", "steps": ["3 + 4 = 9", "answer 9"], "weights": [1e-9, 1e-9]}
    enc = [encode_weighted(tok, t["prompt"], t["steps"], [1.0, 1.0]) for t in (good, bad)]
    with torch.no_grad():
        before = [float(weighted_nll(model, [e], tok.pad_token_id)) for e in enc]
    result = train_awr(model, tok, [good, bad], TrainConfig(epochs=1.0, batch_size=2, lr=3e-3, max_steps=40))
    with torch.no_grad():
        after = [float(weighted_nll(result.model, [e], tok.pad_token_id)) for e in enc]
    assert after[0] < before[0] - 1.0  # the weighted trace is learned
    assert after[1] > after[0] + 1.0  # the zero-weighted one only where it shares tokens with it
    assert result.losses[-1][1] < result.losses[0][1]
