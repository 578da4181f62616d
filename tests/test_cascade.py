"""Cascade decoding (one copy of each prefix for its n continuations) computes exactly the model's
own attention: every step's logits equal a plain forward pass over prompt + tokens so far."""
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from synthrl import cascade
from synthrl.models import build_model, build_tokenizer
from synthrl.config import ModelConfig
from synthrl.tasks.arith import ArithWorld

SMALL = ModelConfig(hidden_size=32, n_layers=2, n_heads=2, intermediate_size=64, max_positions=128)


@pytest.fixture(scope="module")
def setup():
    world = ArithWorld()
    tok = build_tokenizer(world.vocabulary())
    tok.padding_side = "left"
    prompts = [world.prompt(p) for p in world.make_problems("train", 3, seed=0)]
    texts = [prompts[0], prompts[1] + "Ann has 3", prompts[2][: len(prompts[2]) // 2]]  # unequal lengths
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    return build_model(SMALL, tok, seed=3).eval(), tok, enc


@pytest.fixture(scope="module")
def variant(setup):
    """A Llama unlike the kit's own (biases in attention and MLP, a head_dim that is not hidden/heads,
    llama3 rope scaling, untied head), as a pretrained checkpoint may be: the decoding step must still
    compute the model's own forward."""
    _, tok, enc = setup
    torch.manual_seed(5)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, head_dim=24, attention_bias=True,
                         mlp_bias=True, tie_word_embeddings=False, max_position_embeddings=128,
                         rope_parameters={"rope_type": "llama3", "rope_theta": 5e5, "factor": 8.0,
                                          "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                          "original_max_position_embeddings": 32},
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    model = LlamaForCausalLM(config).eval()
    for x in model.parameters():  # biases start at zero: make them count
        torch.nn.init.normal_(x, std=0.2)
    return model, tok, enc


def _active_rows(tokens: torch.Tensor, eos: int, n: int, step: int) -> list[int]:
    """Rows still in the batch at `step` when every finished group leaves at once: those of groups
    with a row that had not ended before `step`."""
    ended = (tokens[:, :step] == eos).any(-1).view(-1, n).all(-1)
    return [r for r in range(tokens.shape[0]) if step == 0 or not ended[r // n]]


@pytest.mark.parametrize("which", ["kit", "variant"])
def test_logits_at_every_step_equal_a_full_forward_pass(which, setup, variant, monkeypatch):
    model, tok, enc = setup if which == "kit" else variant
    n, eos = 4, tok.eos_token_id
    seen = []
    pick = cascade._pick

    def recording_pick(logits, temperature, keys, step):  # also ends rows, so that groups leave, the first one early
        seen.append(logits.clone())
        end = torch.rand(len(logits)) < 0.1
        end[:n] |= len(seen) == 2
        return pick(logits, temperature, keys, step).masked_fill(end, eos)

    monkeypatch.setattr(cascade, "_pick", recording_pick)
    torch.manual_seed(0)
    tokens = cascade.sample(model, enc["input_ids"], enc["attention_mask"], n, 1.0, 12, eos, tok.pad_token_id,
                            compact_at=0.0)
    assert len(seen[-1]) < len(seen[0])  # groups did leave the batch
    assert tokens.shape == (3 * n, 12)
    for row in range(3 * n):
        prompt = enc["input_ids"][row // n][enc["attention_mask"][row // n].bool()]
        new = tokens[row].tolist()
        new = new[: new.index(eos) + 1] if eos in new else new
        full = model(input_ids=torch.cat([prompt, torch.tensor(new)])[None]).logits[0]
        for t in range(len(new)):
            ours = seen[t][_active_rows(tokens, eos, n, t).index(row)]
            torch.testing.assert_close(ours, full[len(prompt) - 1 + t], atol=1e-4, rtol=1e-4)
        assert all(x == tok.pad_token_id for x in tokens[row, len(new):])  # padding after the end


def test_greedy_equals_generate_n_times(setup):
    model, tok, enc = setup
    ours = cascade.sample(model, enc["input_ids"], enc["attention_mask"], 2, 0.0, 10, tok.eos_token_id,
                          tok.pad_token_id)
    ref = model.generate(**enc, do_sample=False, max_new_tokens=10, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, top_k=None, top_p=None, temperature=None)
    ref = ref[:, enc["input_ids"].shape[1]:]
    for row in range(6):
        assert ours[row, : ref.shape[1]].tolist() == ref[row // 2].tolist()


@pytest.mark.parametrize("which", ["kit", "variant"])
def test_our_step_draws_what_the_models_forward_draws(which, setup, variant, monkeypatch):
    """The probe's reference (the model's own forward with the cascade attention registered) and our
    decoding step give the same logits, so the same draws: the step changed no cached rollout."""
    from synthrl.bench import step

    model, tok, enc = setup if which == "kit" else variant
    args = (model, enc["input_ids"], enc["attention_mask"], 4, 1.0, 16, tok.eos_token_id, tok.pad_token_id)
    torch.manual_seed(1)
    ours = cascade.sample(*args, compact_at=0.0)
    monkeypatch.setattr(cascade, "decode_step", step.forward_step)
    torch.manual_seed(1)
    assert torch.equal(cascade.sample(*args, compact_at=0.0), ours)
    assert model.config._attn_implementation == "sdpa"  # the reference restores the model's attention


def test_a_workspace_kept_across_calls_gives_the_same_tokens(setup):
    """The buffers a sampler keeps between calls (grown when a call needs more rows or steps, reused
    otherwise) give the tokens of fresh buffers, whatever an earlier call left in them."""
    model, tok, enc = setup
    workspace = cascade.Workspace()
    ptrs = []
    for n, steps in ((2, 6), (4, 12), (3, 8), (4, 12)):
        args = (model, enc["input_ids"], enc["attention_mask"], n, 1.0, steps, tok.eos_token_id, tok.pad_token_id)
        torch.manual_seed(n)
        fresh = cascade.sample(*args, compact_at=0.0)
        torch.manual_seed(n)
        assert torch.equal(cascade.sample(*args, compact_at=0.0, workspace=workspace), fresh)
        ptrs.append(workspace.keys[0].data_ptr())
    assert ptrs[0] != ptrs[1] and ptrs[1] == ptrs[2] == ptrs[3]  # grown once, then reused
    assert workspace.keys[0].shape[:3:2] == (3 * 4, 12)


def test_supports_only_what_it_computes(setup):
    model, _, _ = setup
    assert cascade.supports(model)
    gqa = LlamaForCausalLM(LlamaConfig(vocab_size=16, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                       num_attention_heads=4, num_key_value_heads=2))
    assert not cascade.supports(gqa)
    with pytest.raises(ValueError, match="key/value heads"):
        cascade.sample(gqa, torch.ones(1, 3, dtype=torch.long), torch.ones(1, 3, dtype=torch.long), 2, 1.0, 4, 1, 0)


def test_greedy_sampler_decodes_through_the_cascade_with_generates_tokens(setup, monkeypatch):
    """HFSampler's greedy decoding (the kit's test error) goes through the cascade, with one row per
    prompt, and gives what `generate` gives (cascade=False)."""
    from synthrl.sampling import HFSampler, SamplingSpec

    model, tok, _ = setup
    world = ArithWorld()
    prompts = [world.prompt(p) for p in world.make_problems("test", 12, seed=1)]
    spec = SamplingSpec(n=1, temperature=0.0, max_new_tokens=24)
    calls = []
    real = cascade.sample
    monkeypatch.setattr(cascade, "sample", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    ours = HFSampler(model, tok, batch_size=5).sample(prompts, spec)
    assert calls and set(calls) == {1}  # every batch, one continuation per prompt
    calls.clear()
    assert HFSampler(model, tok, batch_size=5, cascade=False).sample(prompts, spec) == ours and not calls
