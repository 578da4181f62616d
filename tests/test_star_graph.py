"""The star-graph study: metrics index the critical token right, pairs are cut at the first wrong
node, a smoke run trains and evaluates every checkpoint, and verdicts follow from the numbers."""
import types

import pandas as pd
import pytest
import torch

from synthrl.models import build_stargraph_tokenizer
from synthrl.preference import encode_pair
from synthrl.presets import get_preset
from synthrl.studies import star_graph as sg
from synthrl.tasks.stargraph import CRITICAL_INDEX, StarGraphConfig, StarGraphTask
from synthrl.verdicts import NOT_TESTABLE, REPRODUCES, VERDICTS

SMOKE = get_preset("smoke")


class PathOracle(torch.nn.Module):
    """Predicts every next token of the sequence it is fed with certainty, except the critical
    token (the second token after '='), where its logits are flat."""

    def __init__(self, tokenizer):
        super().__init__()
        self.vocab = len(tokenizer)
        self.eq = tokenizer.convert_tokens_to_ids("=")
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, attention_mask=None):
        logits = torch.zeros(*input_ids.shape, self.vocab)
        logits[:, :-1].scatter_(2, input_ids[:, 1:, None], 20.0)
        for b, row in enumerate(input_ids.tolist()):
            logits[b, row.index(self.eq) + CRITICAL_INDEX] = 0.0  # flat where the critical token is predicted
        return types.SimpleNamespace(logits=logits)


def test_teacher_forced_metrics_find_the_critical_token():
    task = StarGraphTask(StarGraphConfig(2, 5, 50))
    tok = build_stargraph_tokenizer(50)
    problems = task.make_problems("test", 20, seed=0)
    m = sg.teacher_forced(PathOracle(tok), tok, task, problems)
    assert all(x == 1.0 for x in m["other_acc"])  # every other path node is predicted
    assert all(x == 0.0 for x in m["critical_acc"])  # flat logits: argmax is token 0 (<pad>)
    assert all(x == pytest.approx(1 / len(tok), rel=1e-4) for x in m["p_critical"])
    # NLL per token of the path and its end token: only the critical token costs log(V)
    l = task.config.l
    assert all(x == pytest.approx(torch.log(torch.tensor(float(len(tok)))).item() / (l + 1), rel=1e-3)
               for x in m["nll"])


def test_per_step_pairs_cut_after_the_first_wrong_node():
    task = StarGraphTask(StarGraphConfig(2, 5, 50))
    p = task.make_problems("train", 1, seed=0)[0]
    path = p.meta["path"]
    other = next(b for a, b in p.meta["edges"] if a == path[0] and b != path[1])
    unused = sorted(set(range(50)) - {x for e in p.meta["edges"] for x in e})
    wrong_arm = [path[0], other, *unused[:3]]
    late = [*path[:3], *unused[3:5]]
    samples = [wrong_arm, wrong_arm, path, path[:3], late]  # a duplicate, a right path, an early stop
    pairs = sg.per_step_pairs(task, sg.first_wrong(task, [p], [samples]))
    assert [x["pit"] for x in pairs] == [CRITICAL_INDEX, 3]
    assert pairs[0]["rejected"] == f"{path[0]},{other}" and pairs[0]["chosen"] == p.solution
    assert pairs[1]["rejected"] == ",".join(map(str, [*path[:3], unused[3]]))
    tok = build_stargraph_tokenizer(50)
    for pair in pairs:
        e = encode_pair(tok, {k: v for k, v in pair.items() if k != "pit"})
        assert e["rejected"][-1] != tok.eos_token_id and e["chosen"][-1] == tok.eos_token_id
        assert tok.unk_token_id not in e["rejected"] + e["chosen"]


@pytest.fixture(scope="module")
def smoke_results(module_run_home):
    return sg.run(SMOKE)


def test_sft_is_scored_at_every_checkpoint_and_its_loss_falls(smoke_results):
    sft = smoke_results[smoke_results.method == sg.SFT]
    errors = sft[sft.metric == "error_test"]
    assert sorted(errors.step) == sorted(SMOKE.star.checkpoints) and errors.value.between(0, 1).all()
    nll = sft[sft.metric == "nll_train"].sort_values("step").value.to_numpy()
    assert nll[-1] < nll[0] - 0.5  # from scratch: the path's loss falls well below its start
    loss = sft[sft.metric == "sft_loss"].sort_values("step").value.to_numpy()
    assert loss[-1] < loss[0]
    other = sft[sft.metric == "other_acc_train"].sort_values("step").value.to_numpy()
    assert other[-1] > other[0]


def test_per_step_dpo_runs_from_every_start_and_lowers_its_loss(smoke_results):
    dpo = smoke_results[smoke_results.method == sg.DPO]
    cfg = SMOKE.star
    assert set(dpo.start) == set(cfg.dpo_starts())
    assert set(dpo[dpo.start == cfg.dpo_from_over].start_kind) == {"over-trained"}
    for start in cfg.dpo_from:
        run = dpo[dpo.start == start]
        assert run[run.metric == "n_pairs"].value.iloc[0] > 0  # an under-trained model errs: pairs exist
        evals = sorted(run[run.metric == "error_test"].step)
        assert evals == list(range(start, start + cfg.dpo.max_steps + 1, cfg.dpo_eval_every))
        loss = run[run.metric == "dpo_loss"].sort_values("step").value.to_numpy()
        assert len(loss) == cfg.dpo.max_steps and loss[-3:].mean() < loss[:3].mean()
    claims = sg.claims(smoke_results)
    assert len(claims) == 2 + len(cfg.dpo_starts()) and set(claims.verdict) <= set(VERDICTS)
    # the over-trained start's "no transition" never reproduces unless an under-trained one transitioned
    under = claims[claims.claim.str.contains("under-trained")].verdict
    over = claims[claims.claim.str.contains("over-trained")].verdict.iloc[0]
    assert over != REPRODUCES or (under == REPRODUCES).any()


def _fake(sft_error, dpo_errors, crit=0.5, other=0.99, q=(0.3, 0.05), n_test=400):
    """A results table: SFT checkpoints at 0..1000 and per-step DPO runs {start: (kind, errors)}."""
    rows = []
    for step in range(0, 1001, 100):
        for metric, value in (("error_test", sft_error), ("critical_acc_test", crit), ("other_acc_test", other),
                              ("q_critical_train", q[0]), ("q_critical_test", q[1])):
            rows.append({"method": sg.SFT, "step": step, "metric": metric, "value": value})
    for start, (kind, errors) in dpo_errors.items():
        rows += [{"method": sg.DPO, "start": start, "start_kind": kind, "step": start + 10 * i, "metric": "error_test",
                  "value": e} for i, e in enumerate(errors)]
    return pd.DataFrame(rows).assign(task="G(2,5,50)", n_test=n_test)


def test_verdicts_follow_the_numbers():
    paper_like = sg.claims(_fake(0.5, {60: ("under-trained", [0.5, 0.45, 0.05]), 900: ("over-trained", [0.5, 0.5])}))
    assert paper_like.verdict.eq("reproduces").all()
    flat = sg.claims(_fake(0.5, {60: ("under-trained", [0.5, 0.48, 0.47]), 900: ("over-trained", [0.5, 0.1])},
                           crit=0.9, q=(0.05, 0.05)))
    assert flat.verdict.eq("reproduces").sum() == 0
    # no start transitions: the over-trained start's "no transition" agrees with the paper for a
    # reason that does not separate the starts, so it is not testable
    none = sg.claims(_fake(0.5, {60: ("under-trained", [0.5, 0.48, 0.47]), 900: ("over-trained", [0.5, 0.5])}))
    assert none.set_index("claim").verdict.filter(like="over-trained").iloc[0] == NOT_TESTABLE
    # nothing learned at all (the smoke preset): nothing is testable
    stuck = sg.claims(_fake(1.0, {60: ("under-trained", [1.0, 1.0]), 900: ("over-trained", [1.0, 1.0])},
                            crit=0.0, other=0.0, q=(0.0, 0.0)))
    assert stuck.verdict.eq(NOT_TESTABLE).all()


def test_explorer_runs_the_chosen_start(smoke_results):
    pytest.importorskip("ipywidgets")
    from synthrl.widgets import star_explorer

    panel = star_explorer(SMOKE)
    start = panel.children[0].children[1].children[1]
    run_button, replot_button = panel.children[1].children
    replot_button.click()  # nothing loaded yet: says so instead of failing
    start.value = 20
    run_button.click()  # ipywidgets logs a handler's exception instead of raising: check the result
    df = panel.explorer_state["results"]
    assert df is not None and set(df[df.method == sg.DPO].start) == {20}
    # the same SFT run as the study's (cached): its checkpoints score the same
    sft = lambda d: d[(d.method == sg.SFT) & (d.metric == "error_test")].sort_values("step").value.tolist()  # noqa: E731
    assert sft(df) == sft(smoke_results)
