"""One `Sampler` interface, two backends: transformers `generate` (everywhere) and vLLM (when
installed). A sampler returns, for each prompt, n continuations as text; with `prefixes`, each
prompt is continued from the given partial solution (the continuation excludes the prefix)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from tqdm.auto import tqdm

import synthrl.cascade
import synthrl.streams


@dataclass(frozen=True)
class SamplingSpec:
    n: int = 1
    temperature: float = 1.0  # 0 = greedy
    max_new_tokens: int = 96
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 1 or self.max_new_tokens < 1 or self.temperature < 0:
            raise ValueError(f"need n >= 1, max_new_tokens >= 1, temperature >= 0; got {self}")
        if self.temperature == 0 and self.n > 1:
            raise ValueError("greedy decoding (temperature 0) gives one answer: use n=1")


class Sampler(Protocol):
    tokenizer: object  # the model's: sampling costs are counted in its tokens (`count_tokens`)

    def sample(self, prompts: list[str], spec: SamplingSpec,
               prefixes: list[str] | None = None) -> list[list[str]]: ...


def count_tokens(tokenizer, texts: list[str], max_new_tokens: int) -> list[int]:
    """Tokens sampled for each text a sampler returned: its tokens plus the end-of-sequence token,
    at most `max_new_tokens` (a sample cut there has no end token). Samplers return text, not ids,
    so every cost in the kit (rollouts, GRPO's online samples, the bench) is counted this one way."""
    if not texts:
        return []
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return [min(len(i) + 1, max_new_tokens) for i in ids]


def join_prefixes(prompts: list[str], prefixes: list[str] | None) -> list[str]:
    if prefixes is None:
        return list(prompts)
    if len(prefixes) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(prefixes)} prefixes")
    return [p + x for p, x in zip(prompts, prefixes)]


class HFSampler:
    """transformers `generate`, batched with left padding; prompts sorted by length so that a
    batch holds similar lengths (less padding). Every sample draws from its own random stream, keyed
    by the seed, its text and its index (`synthrl.streams`): the same inputs and seed give the same
    samples at every batch size, in every batch order, and by every way of decoding below.

    With n > 1 and `share_prefix` (the default), each prompt (+ prefix) is encoded once and its n
    samples share that work: decoded by `synthrl.cascade` (one copy of the prefix, attended to by
    all n; finished groups leave the batch) where the model supports it, else by `generate` from
    a key/value cache repeated n times (`cascade=False` forces that way). Greedy decoding goes
    through `synthrl.cascade` too (rows leave the batch as they end; the same tokens as `generate`,
    probe greedy_cascade), sampling one continuation at a temperature through `generate`. `share_prefix=False`
    re-encodes the text for every sample (the naive way, kept for the benchmark); all three
    sample the same distribution. With prefixes and `group_by_depth` (the default), rollouts
    from prefixes of equal depth (lines) are batched together: they need about as many tokens to
    finish, and `generate` runs a batch until its longest sequence ends.
    """

    def __init__(self, model, tokenizer, batch_size: int = 64, device: str | None = None,
                 progress: bool = False, share_prefix: bool = True, group_by_depth: bool = True,
                 cascade: bool = True):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.device = device or next(model.parameters()).device
        self.progress = progress
        self.share_prefix = share_prefix
        self.group_by_depth = group_by_depth
        self.cascade = cascade and synthrl.cascade.supports(model)
        # the cascade's buffers, kept across batches on a CPU (CUDA's caching allocator already reuses memory,
        # and a GPU's memory is better handed back between batches)
        self._workspace = synthrl.cascade.Workspace() if torch.device(self.device).type == "cpu" else None

    def _encode(self, texts: list[str]):
        self.tokenizer.padding_side = "left"
        return self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)

    @torch.no_grad()
    def _generate(self, texts: list[str], spec: SamplingSpec, samples: list[int], repeats: int = 1) -> list[str]:
        """One generate call; with repeats > 1 each text is encoded once and sampled `repeats`
        times from its repeated cache (outputs grouped by text). Text k's rows are its samples
        samples[k], samples[k] + 1, ...: each draws from its own stream (`synthrl.streams`)."""
        tok = self.tokenizer
        enc = self._encode(texts)
        ids, mask = enc["input_ids"], enc["attention_mask"]
        greedy = spec.temperature == 0
        keys = None if greedy else synthrl.streams.row_keys(
            spec.seed, [t for t in texts for _ in range(repeats)], [j + r for j in samples for r in range(repeats)])
        kwargs = {}
        if self.cascade and (repeats > 1 or greedy):  # greedy too (probe greedy_cascade)
            new = synthrl.cascade.sample(self.model, ids, mask, repeats, spec.temperature, spec.max_new_tokens,
                                         tok.eos_token_id, tok.pad_token_id, workspace=self._workspace, keys=keys)
            return [t.strip() for t in tok.batch_decode(new, skip_special_tokens=True)]
        if repeats > 1:
            # Prefill all but the last token at the positions generate() will use (left padding),
            # then repeat the cache: generate() only runs the last token and the new ones.
            positions = synthrl.cascade.left_padded_positions(mask)
            cache = self.model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1],
                               position_ids=positions[:, :-1], use_cache=True).past_key_values
            cache.batch_repeat_interleave(repeats)
            ids, mask = ids.repeat_interleave(repeats, 0), mask.repeat_interleave(repeats, 0)
            kwargs["past_key_values"] = cache
        if not greedy:  # generate runs greedily on logits where only each row's own draw is left
            from transformers import LogitsProcessorList

            kwargs["logits_processor"] = LogitsProcessorList(
                [synthrl.streams.StreamPicker(keys, spec.temperature, ids.shape[1])])
        out = self.model.generate(
            input_ids=ids, attention_mask=mask, **kwargs,
            do_sample=False, temperature=None, top_p=None, top_k=None,
            max_new_tokens=spec.max_new_tokens,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
        return [t.strip() for t in tok.batch_decode(out[:, ids.shape[1]:], skip_special_tokens=True)]

    def sample(self, prompts: list[str], spec: SamplingSpec,
               prefixes: list[str] | None = None) -> list[list[str]]:
        texts = join_prefixes(prompts, prefixes)
        lengths = [len(self.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
        if prefixes is not None and self.group_by_depth:
            lengths = [(x.count("\n"), n) for x, n in zip(prefixes, lengths)]  # depth first, then length
        # A job (i, j) is text i in a batch, giving `repeats` samples from its j-th on: all n from one
        # shared cache, or one (naive: the text is n jobs). Jobs are sorted by (depth and) length so
        # that a batch holds similar sequences; every sample draws from its own stream, so the batches
        # change no sample.
        repeats = spec.n if self.share_prefix and spec.n > 1 else 1
        jobs = sorted(((i, j) for i in range(len(texts)) for j in range(0, spec.n, repeats)),
                      key=lambda job: (lengths[job[0]], job))
        results: list[list[str]] = [[] for _ in texts]
        per_batch = max(1, self.batch_size // repeats)
        starts = range(0, len(jobs), per_batch)
        for start in tqdm(starts, desc="sampling", disable=not self.progress, leave=False):
            batch = jobs[start:start + per_batch]
            outs = self._generate([texts[i] for i, _ in batch], spec, [j for _, j in batch], repeats=repeats)
            for k, (i, _) in enumerate(batch):
                results[i] += outs[k * repeats:(k + 1) * repeats]
        return results


class VLLMSampler:
    """vLLM's `LLM.generate` with prefix caching; LoRA adapters through a fresh `LoRARequest`
    per checkpoint (vLLM caches adapters by id, so a new checkpoint needs a new id)."""

    _next_lora_id = 1

    def __init__(self, model_path: str | Path, adapter_path: str | Path | None = None,
                 gpu_memory_utilization: float = 0.85, max_model_len: int | None = None):
        from vllm import LLM

        self.llm = LLM(model=str(model_path), enable_lora=adapter_path is not None,
                       enable_prefix_caching=True, gpu_memory_utilization=gpu_memory_utilization,
                       max_model_len=max_model_len)
        self.tokenizer = self.llm.get_tokenizer()
        self.lora = None
        if adapter_path is not None:
            from vllm.lora.request import LoRARequest

            self.lora = LoRARequest(f"adapter-{VLLMSampler._next_lora_id}", VLLMSampler._next_lora_id,
                                    str(adapter_path))
            VLLMSampler._next_lora_id += 1

    def sample(self, prompts: list[str], spec: SamplingSpec,
               prefixes: list[str] | None = None) -> list[list[str]]:
        from vllm import SamplingParams

        texts = join_prefixes(prompts, prefixes)
        # one seed per request, from its text (`synthrl.streams`): vLLM's seeded requests draw from their own
        # generator, so a request's samples do not depend on what is batched with it
        seeds = synthrl.streams.row_keys(spec.seed, texts, [0] * len(texts)) & ((1 << 63) - 1)
        params = [SamplingParams(n=spec.n, temperature=spec.temperature, max_tokens=spec.max_new_tokens, seed=int(s))
                  for s in seeds.tolist()]
        outs = self.llm.generate(texts, params, lora_request=self.lora, use_tqdm=False)
        return [[c.text.strip() for c in o.outputs] for o in outs]


def vllm_available() -> bool:
    try:
        import vllm  # noqa: F401
    except Exception:  # vllm raises more than ImportError on machines without a GPU
        return False
    return torch.cuda.is_available()


def make_sampler(checkpoint: str | Path, model=None, tokenizer=None, batch_size: int = 64,
                 backend: str = "auto", progress: bool = False, model_cfg=None) -> Sampler:
    """vLLM where it imports and a GPU is present (backend='auto'), else transformers, loading the
    checkpoint as `model_cfg` (a `ModelConfig`: a QLoRA preset's base in 4 bits) says."""
    if backend not in ("auto", "hf", "vllm"):
        raise ValueError(f"backend must be 'auto', 'hf' or 'vllm', got {backend!r}")
    if backend == "vllm" or (backend == "auto" and vllm_available()):
        adapter = Path(checkpoint) if (Path(checkpoint) / "adapter_config.json").exists() else None
        if adapter is not None:
            import json

            base = json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
            return VLLMSampler(base, adapter)
        return VLLMSampler(checkpoint)
    if model is None or tokenizer is None:
        from synthrl.models import default_device, load_checkpoint

        model, tokenizer = load_checkpoint(checkpoint, model_cfg, device=default_device())
    return HFSampler(model, tokenizer, batch_size=batch_size, progress=progress)
