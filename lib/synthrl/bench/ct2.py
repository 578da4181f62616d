"""CTranslate2 (OpenNMT's inference engine for CPUs and GPUs) behind the `Sampler` interface: the real
engine `make bench` runs our rollouts against. It is in the `bench` extra only (`pip install -e
".[bench]"`); nothing else in the kit imports it.

Two things to know when using it beside torch in one process: both bundle their own OpenMP runtime,
and the threads of one spin while the other computes (measured: our sampler ran about 2x slower after
CTranslate2 had run in the same process on 2 cores), so the bench runs it in a process of its own. And
its random sampling does not repeat with a seed on more than one thread (the same seed gave other
rollouts in each round), where ours does.
"""
from __future__ import annotations

import json
from pathlib import Path

from synthrl.sampling import SamplingSpec, join_prefixes


def convert(checkpoint: str | Path, out: str | Path) -> Path:
    """A CTranslate2 model (fp32) converted from a Hugging Face checkpoint of ours, written to `out`."""
    from ctranslate2.converters import TransformersConverter

    out = Path(out)
    TransformersConverter(str(checkpoint)).convert(str(out), force=True)
    # The converter writes our models' missing BOS token as null, which the engine's config reader rejects
    # (a string is required); nothing here starts from a BOS token, so the pad token stands in.
    config_path = out / "config.json"
    config = json.loads(config_path.read_text())
    if config.get("bos_token") is None:
        from transformers import AutoTokenizer

        config["bos_token"] = AutoTokenizer.from_pretrained(str(checkpoint)).pad_token
        config_path.write_text(json.dumps(config, indent=2))
    return out


class CT2Sampler:
    """`Sampler` on a converted model: prompts (+ prefixes) tokenized by the checkpoint's tokenizer, n
    samples each (`num_hypotheses`) at the spec's temperature from the full distribution, stopping at
    the end-of-sequence token or after `max_new_tokens`; the engine sorts and batches by length."""

    def __init__(self, model_dir: str | Path, tokenizer, batch_size: int = 64, threads: int = 1):
        import ctranslate2

        self.generator = ctranslate2.Generator(str(model_dir), device="cpu", inter_threads=1, intra_threads=threads)
        self.tokenizer = tokenizer
        self.batch_size = batch_size  # sequences decoded together, as HFSampler's

    def sample(self, prompts: list[str], spec: SamplingSpec,
               prefixes: list[str] | None = None) -> list[list[str]]:
        import ctranslate2

        tok = self.tokenizer
        starts = [tok.convert_ids_to_tokens(tok(t, add_special_tokens=False)["input_ids"]) for t in join_prefixes(prompts, prefixes)]
        ctranslate2.set_random_seed(spec.seed)
        greedy = spec.temperature == 0
        results = self.generator.generate_batch(
            starts, max_batch_size=max(1, self.batch_size // spec.n), num_hypotheses=spec.n,
            sampling_topk=1 if greedy else 0,  # 0: the full distribution, as `generate` with top_k off
            sampling_temperature=1.0 if greedy else spec.temperature,
            max_length=spec.max_new_tokens, include_prompt_in_result=False)
        return [[t.strip() for t in tok.batch_decode(r.sequences_ids, skip_special_tokens=True)] for r in results]
