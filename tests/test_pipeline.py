"""The end-to-end smoke pipeline: tidy results, caching, resuming, determinism, bad cache files."""
import dataclasses
from pathlib import Path

import pytest

from synthrl import pipeline
from synthrl.cache import run_home
from synthrl.presets import get_preset
from synthrl.results import COLUMNS
from synthrl.studies import quickstart
from synthrl.verdicts import VERDICTS

SMOKE = get_preset("smoke")


@pytest.fixture(scope="module")
def smoke_results(module_run_home):
    return quickstart.run(SMOKE), run_home()


def test_tidy_results_with_provenance(smoke_results):
    df, _ = smoke_results
    assert list(df.columns[:len(COLUMNS)]) == COLUMNS and set(df.columns[len(COLUMNS):]) == {"n_test", "item"}
    solved = df[df.metric == "solved"]  # per test problem, for the paired claims
    assert (solved.groupby("method").size() == SMOKE.n_test).all() and set(solved.method) == {"pi_base", "SFT", "RFT"}
    claims = quickstart.claims(df)
    assert len(claims) == 1 and claims.verdict.iloc[0] in VERDICTS
    errors = quickstart.summary(df)["test_error"]
    assert list(errors.index) == ["pi_base", "SFT", "RFT"] and errors.between(0, 1).all()
    assert df["git_commit"].notna().all() and df["device"].str.len().gt(0).all()
    assert (df[df.metric == "train_loss"].groupby("method").size() > 0).all()


def test_rft_trains_as_many_steps_as_sft(smoke_results):
    """Preset.rft_steps "sft": RFT on D+ runs SFT's optimizer steps on D_syn (equal compute), whatever
    the size of D+; the training logs' last steps say how many ran."""
    from synthrl.config import TrainConfig

    _, home = smoke_results
    steps = pipeline.train_steps(SMOKE.sft, SMOKE.n_train)
    assert steps == 10  # 2 epochs of 160 rows in batches of 32
    last = {stage: max(s for s, _ in pipeline.train_log(str(next(home.glob(f"{stage}/*"))))["losses"])
            for stage in ("pi_sft", "pi_rft")}
    assert last == {"pi_sft": steps, "pi_rft": steps}
    assert pipeline.train_steps(TrainConfig(epochs=2.5, batch_size=8), 10) == 5  # whole batches, rounded up
    assert pipeline.train_steps(TrainConfig(max_steps=7), 1000) == 7


def test_rerun_is_served_from_the_cache(smoke_results, monkeypatch):
    df, home = smoke_results
    monkeypatch.setenv("SYNTHRL_HOME", str(home))
    stamps = {p: p.stat().st_mtime_ns for p in home.glob("*/*")}

    def no_training(*a, **k):
        raise AssertionError("a cached stage was trained again")

    monkeypatch.setattr("synthrl.train.sft", no_training)
    again = quickstart.run(SMOKE)
    assert {p: p.stat().st_mtime_ns for p in home.glob("*/*")} == stamps
    assert again[again.metric == "test_error"]["value"].tolist() == df[df.metric == "test_error"]["value"].tolist()


def test_interrupted_run_resumes_from_the_last_finished_stage(monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    home = run_home()
    with monkeypatch.context() as m:  # only this patch is undone (not the test's own run folder)
        m.setattr(pipeline, "pi_rft", interrupted)
        with pytest.raises(KeyboardInterrupt):
            quickstart.run(SMOKE)
    done = {p.parent.parent.name for p in home.glob("*/*/DONE")}
    assert {"d_syn", "pi_base", "pi_sft", "samples"} <= done and "pi_rft" not in done
    import synthrl.train

    trained = []
    real = synthrl.train.sft

    def counting(model, tokenizer, rows, *a, **k):  # every model actually trained, by its data
        trained.append(rows)
        return real(model, tokenizer, rows, *a, **k)

    monkeypatch.setattr(synthrl.train, "sft", counting)
    quickstart.run(SMOKE)
    assert run_home() == home
    assert {p.parent.parent.name for p in home.glob("*/*/DONE")} >= {"pi_rft", "eval"}
    # only RFT was trained on resuming: pi_base and pi_sft came from the cache
    assert len(trained) == 1 and all("completion" in r and "text" not in r for r in trained[0])
    assert [r["prompt"] for r in trained[0]] != [r["prompt"] for r in pipeline.sft_rows(SMOKE, pipeline.d_syn(SMOKE))]
    assert len(list(home.glob("pi_sft/*"))) == 1  # pi_sft was reused, not retrained


def test_same_seed_same_d_syn_and_test_error(smoke_results, monkeypatch, tmp_path):
    df, home = smoke_results
    first = [p.to_dict() for p in pipeline.d_syn(SMOKE)]
    monkeypatch.setenv("SYNTHRL_HOME", str(tmp_path / "fresh"))
    assert [p.to_dict() for p in pipeline.d_syn(SMOKE)] == first
    again = quickstart.run(SMOKE)
    assert quickstart.summary(again).equals(quickstart.summary(df))


def test_a_corrupt_cache_file_is_named_and_rebuilt_never_read(caplog):
    """A cached stage's file damaged after it was written (a line cut) is caught by the stage's record
    before it is parsed: named, and the stage rebuilt, so the problems come back whole."""
    first = pipeline.d_syn(SMOKE)
    (path,) = run_home().glob("d_syn/*/problems.jsonl")
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:-5]
    path.write_text("\n".join(lines) + "\n")
    with caplog.at_level("WARNING", logger="synthrl.cache"):
        again = pipeline.d_syn(SMOKE)
    assert again == first
    assert "is damaged (problems.jsonl:" in caplog.text and "rebuilding it" in caplog.text


def test_lora_finetuning_merges_and_leaves_pi_base_alone(tmp_path):
    """ModelConfig.lora_r is finetuning's: pi_base (from scratch) keeps its key and trains every weight,
    while SFT trains rank-r adapters that are merged into a standalone checkpoint (no adapter folder),
    whose weights moved from pi_base's by a low-rank difference."""
    import dataclasses

    import torch

    from synthrl.models import load_checkpoint

    lora = dataclasses.replace(SMOKE, model=dataclasses.replace(SMOKE.model, lora_r=2),
                               sft=dataclasses.replace(SMOKE.sft, lr=1e-2))
    assert pipeline.pi_base_key(lora) == pipeline.pi_base_key(SMOKE)
    base = pipeline.pi_base(lora)
    assert not (Path(base) / "adapter_config.json").exists()
    sft = pipeline.pi_sft(lora, base, pipeline.d_syn(lora, n=32))
    assert not (Path(sft) / "adapter_config.json").exists()
    before, _ = load_checkpoint(base)
    after, _ = load_checkpoint(sft)
    w0 = dict(before.named_parameters())["model.layers.0.self_attn.q_proj.weight"]
    w1 = dict(after.named_parameters())["model.layers.0.self_attn.q_proj.weight"]
    delta = (w1 - w0).detach()
    assert delta.abs().max() > 0 and torch.linalg.matrix_rank(delta) <= 2
    emb0, emb1 = before.get_input_embeddings().weight, after.get_input_embeddings().weight
    assert torch.equal(emb0, emb1)  # adapters on linear layers only


def test_sft_kept_on_dev_is_the_epoch_with_the_lowest_dev_error():
    """Preset.sft_keep "best_dev" (early stopping): dev problems are apart from D_syn and the test set;
    every epoch's end is a candidate (never step 0, which is pi_base); the kept checkpoint is the first
    with the lowest greedy dev error, and re-evaluating it gives that error."""
    import dataclasses

    import torch

    from synthrl.models import load_checkpoint
    from synthrl.config import TrainConfig

    keep = dataclasses.replace(SMOKE, sft_keep="best_dev", n_dev=24,
                               sft=TrainConfig(epochs=3.0, batch_size=8, lr=3e-3))
    problems = pipeline.d_syn(keep, n=32)
    dev = pipeline.dev_problems(keep)
    questions = {p.question for p in dev}
    assert len(dev) == 24 and len(questions) == 24
    assert not questions & {p.question for p in pipeline.test_problems(keep)}
    assert not questions & {p.question for p in problems}
    base = pipeline.pi_base(keep)
    sft = pipeline.pi_sft(keep, base, problems)
    log = pipeline.train_log(sft)
    steps = [r["step"] for r in log["dev_errors"]]
    assert steps == [4, 8, 12]  # the ends of 3 epochs of 4 batches
    errors = [r["dev_error"] for r in log["dev_errors"]]
    assert log["kept_step"] == steps[errors.index(min(errors))]
    assert pipeline.evaluate_checkpoint(keep, sft, dev)["test_error"] == min(errors)
    last = pipeline.pi_sft(dataclasses.replace(keep, sft_keep="last"), base, problems)
    assert last != sft and "dev_errors" not in pipeline.train_log(last)
    # the same training run: the kept weights are the last step's only if the last epoch was kept
    kept, final = (dict(load_checkpoint(c)[0].named_parameters()) for c in (sft, last))
    same = all(torch.equal(kept[n], final[n]) for n in final)
    assert same == (log["kept_step"] == steps[-1])
    with pytest.raises(ValueError, match="sft_keep"):
        dataclasses.replace(SMOKE, sft_keep="best_test")


def test_replay_draws_pi_bases_own_documents_per_seed():
    """Preset.finetune_replay: that many of pi_base's corpus documents per finetuning row, whole-text
    loss (an empty prompt), the same draw for the same seed; none by default."""
    from synthrl.pipeline import pretrain_corpus, replay_rows

    smoke = get_preset("smoke")
    assert replay_rows(smoke, 40, 0) == []
    replay = dataclasses.replace(smoke, finetune_replay=0.5)
    rows = replay_rows(replay, 40, 0)
    corpus = set(pretrain_corpus(replay))
    assert len(rows) == 20 and all(r["prompt"] == "" and r["completion"] in corpus for r in rows)
    assert rows == replay_rows(replay, 40, 0) and rows != replay_rows(replay, 40, 1)
    with pytest.raises(ValueError, match="finetune_replay"):
        dataclasses.replace(smoke, finetune_replay=-1.0)
