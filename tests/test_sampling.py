import pytest
import torch

from synthrl.models import build_model, build_tokenizer
from synthrl.config import ModelConfig
from synthrl.sampling import HFSampler, SamplingSpec, vllm_available
from synthrl.tasks.arith import ArithWorld

TINY = ModelConfig(hidden_size=32, n_layers=1, n_heads=2, intermediate_size=64, max_positions=128)


@pytest.fixture(scope="module")
def sampler():
    tok = build_tokenizer(ArithWorld().vocabulary())
    return HFSampler(build_model(TINY, tok, seed=0), tok, batch_size=4)


@pytest.fixture(scope="module")
def prompts():
    world = ArithWorld()
    return [world.prompt(p) for p in world.make_problems("train", 6, seed=0)]


def test_shapes_and_seeds(sampler, prompts):
    spec = SamplingSpec(n=3, temperature=1.0, max_new_tokens=8, seed=7)
    a = sampler.sample(prompts, spec)
    assert len(a) == len(prompts) and all(len(s) == 3 for s in a)
    assert a == sampler.sample(prompts, spec)  # same seed, same samples
    assert a != sampler.sample(prompts, SamplingSpec(n=3, temperature=1.0, max_new_tokens=8, seed=8))
    assert len({s for group in a for s in group}) > 1


def test_left_padded_batch_equals_one_at_a_time(sampler, prompts):
    """Greedy decoding of a padded batch gives what each prompt gives alone."""
    spec = SamplingSpec(n=1, temperature=0.0, max_new_tokens=10)
    batched = sampler.sample(prompts, spec)
    alone = [sampler.sample([p], spec)[0] for p in prompts]
    assert batched == alone


def test_prefix_continuation_excludes_the_prefix(sampler, prompts):
    spec = SamplingSpec(n=1, temperature=0.0, max_new_tokens=6)
    full = sampler.sample(prompts[:1], SamplingSpec(n=1, temperature=0.0, max_new_tokens=12))[0][0]
    first_words = " ".join(full.split()[:6])
    cont = sampler.sample(prompts[:1], spec, prefixes=[first_words + " "])[0][0]
    assert full.split()[6:12] == cont.split()[:6]


def test_stops_at_end_of_solution(prompts):
    """A model that always says <eos> yields empty continuations, not max_new_tokens of text."""
    tok = build_tokenizer(ArithWorld().vocabulary())
    model = build_model(TINY, tok, seed=0)

    class AlwaysEos(torch.nn.Module):
        def forward(self, x):
            out = torch.full((*x.shape[:-1], len(tok)), -1e4)
            out[..., tok.eos_token_id] = 0
            return out

    model.lm_head = AlwaysEos()
    out = HFSampler(model, tok).sample(prompts[:2], SamplingSpec(n=2, temperature=1.0, max_new_tokens=20))
    assert out == [["", ""], ["", ""]]


def test_spec_validation():
    with pytest.raises(ValueError, match="greedy"):
        SamplingSpec(n=4, temperature=0.0)


@pytest.mark.skipif(not vllm_available(), reason="vllm is not installed here (or no GPU): the vLLM backend "
                                                   "is exercised only on a GPU machine")
def test_vllm_backend_matches_interface(tmp_path):
    from synthrl.models import save_checkpoint
    from synthrl.sampling import VLLMSampler

    tok = build_tokenizer(ArithWorld().vocabulary())
    save_checkpoint(build_model(TINY, tok), tok, tmp_path)
    out = VLLMSampler(tmp_path).sample(["Ann has 3 apples .\n"], SamplingSpec(n=2, max_new_tokens=5))
    assert len(out) == 1 and len(out[0]) == 2


@pytest.mark.parametrize("cascade", [True, False])
def test_shared_prefix_decodes_like_reencoding(sampler, prompts, cascade):
    """Greedy decoding of a shared prefix (cascade, or generate from a repeated cache) gives
    exactly what re-encoding gives."""
    spec = SamplingSpec(n=1, temperature=0.0, max_new_tokens=10)
    plain = sampler._generate(prompts, spec, [0] * len(prompts))
    shared = HFSampler(sampler.model, sampler.tokenizer, cascade=cascade)
    assert shared.cascade == cascade
    assert shared._generate(prompts, spec, [0] * len(prompts), repeats=3) == [y for y in plain for _ in range(3)]


def test_shared_and_naive_rollouts_sample_the_same_distribution(prompts):
    """Token frequencies of many samples agree between the three ways (same model, same spec)."""
    import collections

    tok = build_tokenizer(ArithWorld().vocabulary())
    model = build_model(TINY, tok, seed=1)
    spec = SamplingSpec(n=200, temperature=1.0, max_new_tokens=3, seed=0)
    counts = {}
    for share, cascade in ((True, True), (True, False), (False, False)):
        out = HFSampler(model, tok, batch_size=400, share_prefix=share, cascade=cascade).sample(prompts[:1], spec)[0]
        counts[share, cascade] = collections.Counter(y.split()[0] if y else "" for y in out)
    naive = counts[False, False]
    for w, _ in naive.most_common(5):  # each frequent first token within a few standard errors (n = 200)
        p = naive[w] / 200
        for way in ((True, True), (True, False)):
            assert abs(counts[way][w] / 200 - p) < 4 * (2 * p * (1 - p) / 200) ** 0.5 + 0.02  # 4 SE of a difference


@pytest.fixture(scope="module")
def trained_sampler():
    """A model that has learned the world a little (random weights put a near-uniform distribution on
    every step, where any float noise could move a draw)."""
    from synthrl.train import completion_rows, sft
    from synthrl.config import TrainConfig

    world = ArithWorld()
    tok = build_tokenizer(world.vocabulary())
    problems = world.make_problems("train", 128, seed=0)
    rows = completion_rows([world.prompt(p) for p in problems], [p.solution for p in problems])
    model = sft(build_model(TINY, tok, seed=0), tok, rows, TrainConfig(epochs=2, batch_size=16, lr=3e-3), TINY).model
    return model.eval(), tok


def test_every_batch_size_and_way_of_decoding_draws_the_same_samples(trained_sampler, prompts):
    """Per-sample random streams: the same seed gives the same samples at every batch size, with and
    without prefixes, whether a prompt's samples share its encoding (the cascade, a repeated cache) or
    each re-encodes it (naive); and a prompt's samples do not depend on which other prompts were asked."""
    model, tok = trained_sampler
    spec = SamplingSpec(n=5, temperature=1.0, max_new_tokens=16, seed=3)
    prefixes = ["", "x", "", "y z", "", ""]
    for pre in (None, prefixes):
        ref = HFSampler(model, tok, batch_size=64).sample(prompts, spec, pre)
        assert len({y for ys in ref for y in ys}) > 10  # they are samples, not one answer
        for kw in (dict(batch_size=1), dict(batch_size=7), dict(batch_size=13, cascade=False),
                   dict(batch_size=3, share_prefix=False), dict(batch_size=64, share_prefix=False)):
            assert HFSampler(model, tok, **kw).sample(prompts, spec, pre) == ref, kw
    ref = HFSampler(model, tok, batch_size=64).sample(prompts, spec)
    assert HFSampler(model, tok, batch_size=4).sample(prompts[3:], spec) == ref[3:]
    assert ref != HFSampler(model, tok, batch_size=64).sample(prompts, SamplingSpec(n=5, max_new_tokens=16, seed=4))


def test_a_sample_is_a_function_of_its_text_and_index(trained_sampler, prompts):
    """Asked twice in one call, a prompt gets the same samples (as from a cache): which problems share
    a call never changes a sample."""
    model, tok = trained_sampler
    twice = HFSampler(model, tok, batch_size=8).sample([prompts[0], prompts[0]], SamplingSpec(n=4, max_new_tokens=16))
    assert twice[0] == twice[1] and len(set(twice[0])) > 1
