import numpy as np
import pytest

from synthrl.credit import BOK_K, FIRST_PIT_DEFINITIONS, bok, bok_se, estimate_q, first_pit
from synthrl.credit_validation import auc, validate
from synthrl.tasks.arith import ArithWorld, first_wrong_step, flip_first_operation


class OracleSampler:
    """Continues a prefix the way a perfect solver would while every step so far is right, and
    with a wrong answer once a step is wrong: Q is 1 before the first wrong step, 0 from it."""

    def __init__(self, world, problems):
        from synthrl.models import build_tokenizer

        self.world = world
        self.tokenizer = build_tokenizer(world.vocabulary())  # rollouts' costs are counted in its tokens
        self.by_prompt = {world.prompt(p): p for p in problems}
        self.calls = []

    def sample(self, prompts, spec, prefixes=None):
        outs = []
        for prompt, prefix in zip(prompts, prefixes):
            self.calls.append(prefix)
            p = self.by_prompt[prompt]
            labels = self.world.label_steps(p, prefix)
            if "wrong" in labels:
                outs.append(["answer 999"] * spec.n)
            else:
                done = len(self.world.split_steps(prefix))
                outs.append(["\n".join(p.solution.split("\n")[done:])] * spec.n)
        return outs


class ShiftedOracle(OracleSampler):
    """Like the oracle, but rollouts fail from `offset` steps after the trace's first wrong step
    (-1: already from the step before it; +1: only once a step more has been taken)."""

    def __init__(self, world, problems, traces, offset):
        super().__init__(world, problems)
        self.fail_after = {world.prompt(p): first_wrong_step(world.label_steps(p, t)) + offset
                           for p, t in zip(problems, traces)}

    def sample(self, prompts, spec, prefixes=None):
        outs = []
        for prompt, prefix in zip(prompts, prefixes):
            p, done = self.by_prompt[prompt], len(self.world.split_steps(prefix))
            fails = done > self.fail_after[prompt]
            outs.append(["answer 999" if fails else "\n".join(p.solution.split("\n")[done:])] * spec.n)
        return outs


@pytest.fixture(scope="module")
def world():
    return ArithWorld()


@pytest.fixture(scope="module")
def negatives(world):
    problems = [p for p in world.make_problems("train", 40, seed=2)
                if flip_first_operation(p.solution) != p.solution][:20]
    # a wrong operation early on, and a wrong final answer: negatives the verifier rejects
    return problems, [flip_first_operation(p.solution).rsplit("\n", 1)[0] + "\nanswer 999" for p in problems]


def test_bok_matches_its_formula():
    p = np.array([0.0, 0.2, 0.5, 1.0])
    assert np.allclose(bok(p, 5), 1 - (1 - p) ** 5)
    assert bok(0.2, 1) == pytest.approx(0.2)


def test_bok_standard_error_matches_simulation():
    rng = np.random.default_rng(0)
    p, n = 0.2, 16
    estimates = bok(rng.binomial(n, p, size=200_000) / n, BOK_K)
    assert bok_se(p, n) == pytest.approx(estimates.std(), rel=0.15)  # delta method, first order
    assert bok_se(0.3, 0) == 0.0


def test_first_pits_land_where_hand_made_traces_put_them():
    q = [0.5, 0.6, 0.1, 0.0, 0.0]
    assert first_pit(q, [2, 3, 1, 0, 0], [4, 4, 4, 4, 4], "min") == 2  # steps are 0-based
    assert first_pit(q, [2, 3, 1, 0, 0], [4, 4, 4, 4, 4], "no_success") == 2
    assert first_pit([0.5, 0.2, 0.3, 0.2], [2, 1, 1, 1], [4] * 4, "min") == 0  # first of tied minima
    assert first_pit([0.5, 0.2, 0.3, 0.2], [2, 1, 1, 1], [4] * 4, "no_success") is None
    assert first_pit([0.2, 0.4, 1.0], [1, 2, 4], [4, 4, 4], "min") is None  # Q never falls
    # the largest drop: step 1 (0.9 -> 0.2), though Q only reaches its lowest at step 3
    assert first_pit([0.8, 0.9, 0.2, 0.1, 0.0], [3, 4, 1, 1, 0], [4] * 5, "max_drop") == 1
    assert first_pit([0.8, 0.9, 0.2, 0.1, 0.0], [3, 4, 1, 1, 0], [4] * 5, "min") == 3
    assert first_pit([0.5, 0.5, 0.2, 0.5, 0.2], [2, 2, 1, 2, 1], [4] * 5, "max_drop") == 1  # first of tied drops
    assert first_pit([0.2, 0.4, 1.0], [1, 2, 4], [4, 4, 4], "max_drop") is None
    with pytest.raises(ValueError):
        first_pit(q, [0] * 5, [4] * 5, "lowest")


def test_prefix_that_states_a_wrong_answer_has_q_zero_without_rollouts(world, negatives):
    problems, _ = negatives
    p = problems[0]
    trace = p.solution.split("\n")[0] + "\nanswer 999\nthen more text"
    sampler = OracleSampler(world, problems)
    (credit,) = estimate_q(sampler, world, [p], [trace], n_rollouts=3)
    assert credit.q[2] == 0.0 and credit.q[3] == 0.0 and credit.rollouts[2] == 0
    assert all("answer 999" not in prefix for prefix in sampler.calls)


def test_oracle_rollouts_put_the_first_pit_on_the_first_wrong_step(world, negatives):
    problems, traces = negatives
    credits = estimate_q(OracleSampler(world, problems), world, problems, traces, n_rollouts=2)
    for p, t, c in zip(problems, traces, credits):
        pit = first_wrong_step(world.label_steps(p, t))
        assert c.first_pit("min") == pit == c.first_pit("no_success") == c.first_pit("max_drop")
        assert c.q[0] == 1.0 and c.advantages[pit] == -1.0
        assert np.allclose(c.q_se, 0.0)  # every rollout agrees: no sampling error
    table = validate(world, problems, credits, rollout_counts=(1, 2))
    assert (table["first_pit_agreement"] == 1.0).all() and (table["drop_auc"] == 1.0).all()


@pytest.mark.parametrize("offset, kind", [(-1, "early"), (1, "late")])
def test_validation_says_where_a_missed_first_pit_lands(world, negatives, offset, kind):
    problems, traces = negatives
    keep = [i for i, (p, t) in enumerate(zip(problems, traces)) if first_wrong_step(world.label_steps(p, t)) >= 1]
    problems, traces = [problems[i] for i in keep], [traces[i] for i in keep]
    assert len(problems) >= 3
    credits = estimate_q(ShiftedOracle(world, problems, traces, offset), world, problems, traces, n_rollouts=2)
    for definition in FIRST_PIT_DEFINITIONS:
        row = validate(world, problems, credits, (2,), definition).iloc[0]
        assert row[f"first_pit_{kind}"] == 1.0 and row["first_pit_agreement"] == 0.0
        assert sum(row[f"first_pit_{k}"] for k in ("agreement", "early", "late", "none")) == pytest.approx(1.0)
        assert row["first_pit_early_irrelevant"] <= row["first_pit_early"]


def test_pooled_traces_count_as_rollouts_from_their_shared_prefixes(world, negatives):
    problems, traces = negatives
    p, t = problems[0], traces[0]
    credit_plain = estimate_q(OracleSampler(world, problems), world, [p], [t], n_rollouts=1)[0]
    pooled = estimate_q(OracleSampler(world, problems), world, [p], [t], n_rollouts=1,
                        pool={p.uid: [p.solution, t]})[0]
    pit = first_wrong_step(world.label_steps(p, t))
    for i, (extra, exact) in enumerate(zip(np.subtract(pooled.rollouts, credit_plain.rollouts), pooled.exact)):
        # the positive shares the prefixes before the flipped step; the negative itself is left out
        assert extra == (0 if exact is not None else int(i <= pit))
    twice = estimate_q(OracleSampler(world, problems), world, [p], [t], n_rollouts=1, pool={p.uid: [t, t]})[0]
    assert twice.rollouts == [n + (e is None) for n, e in zip(credit_plain.rollouts, twice.exact)]  # one copy out
    assert pooled.successes[0] == credit_plain.successes[0] + 1  # the positive succeeded
    assert pooled.truncated(1).outcomes == credit_plain.outcomes  # truncation keeps the pooled traces
    assert pooled.truncated(1).rollouts == pooled.rollouts


def test_each_rollout_costs_its_tokens_and_the_end_token(world, negatives):
    """The price of the estimate: the oracle fails every rollout after the wrong step with 'answer 999'
    (2 tokens + the end token), and truncating to n rollouts keeps the first n's counts."""
    from synthrl.sampling import count_tokens

    problems, traces = negatives
    sampler = OracleSampler(world, problems)
    credit = estimate_q(sampler, world, problems[:1], traces[:1], n_rollouts=3, max_new_tokens=96)[0]
    pit = first_wrong_step(world.label_steps(problems[0], traces[0]))
    assert [len(t) for t in credit.rollout_tokens] == credit.rollouts
    assert all(t == [3, 3, 3] for t in credit.rollout_tokens[pit + 1:-1])  # after the wrong step: 'answer 999'
    # from the bare problem: a whole correct solution
    assert credit.rollout_tokens[0] == count_tokens(sampler.tokenizer, [problems[0].solution] * 3, 96) != [3] * 3
    assert credit.sampled_tokens == sum(map(sum, credit.rollout_tokens))
    assert credit.truncated(1).sampled_tokens == sum(t[0] for t in credit.rollout_tokens if t)
    assert count_tokens(sampler.tokenizer, ["answer 999", ""], 2) == [2, 1]  # a cut sample has no end token


def test_rollouts_with_the_same_seed_repeat(world, negatives):
    from synthrl.models import build_model, build_tokenizer
    from synthrl.config import ModelConfig
    from synthrl.sampling import HFSampler

    problems, traces = negatives
    tok = build_tokenizer(world.vocabulary())
    sampler = HFSampler(build_model(ModelConfig(hidden_size=32, n_layers=1, n_heads=2, intermediate_size=64),
                                    tok, seed=0), tok, batch_size=16)
    run = lambda seed: [c.outcomes for c in estimate_q(sampler, world, problems[:3], traces[:3], 2,
                                                        seed=seed, max_new_tokens=12)]
    assert run(5) == run(5)


def test_auc():
    assert auc([3, 4], [1, 2]) == 1.0 and auc([1], [1]) == 0.5 and auc([1, 2], [3, 4]) == 0.0
