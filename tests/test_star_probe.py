"""The star-graph probes: per-step DPO keeps the trainer's diagnostics, each arm trains with its
own config, and the written rule calls a collapse only where the chosen log-ratio falls below 0 while the
pairs are separated."""
import pandas as pd

from synthrl.preference import DIAGNOSTICS
from synthrl.studies import star_graph as sg
from synthrl.probes import star as probe


def test_arms_keep_the_diagnostics_and_train_differently(module_run_home, monkeypatch):
    monkeypatch.setattr(probe, "PROBES", {"t": {"starts": (20,), "arms": {"study": {}, "DPOP": {"loss": "dpop"}}}})
    df = probe.run("t", "smoke")
    dpo = df[df.method == sg.DPO]
    for arm in ("study", "DPOP"):
        diag = dpo[(dpo.arm == arm) & dpo.metric.str.startswith("dpo_")]
        assert {f"dpo_{m}" for m in DIAGNOSTICS} <= set(diag.metric)
        assert diag.step.min() == 21  # the first DPO step after iteration 20
    chosen = dpo[dpo.metric == "dpo_chosen_logratio"].pivot_table(index="step", columns="arm", values="value")
    assert (chosen["study"] != chosen["DPOP"]).any()  # DPOP's penalty changed the updates
    assert set(probe.verdicts(df).arm) == {"study", "DPOP"}


def _arm(arm: str, chosen: float, accuracy: float, errors: list[float]) -> list[dict]:
    rows = [{"arm": arm, "method": sg.DPO, "start": 500, "step": 500 + 50 * i, "metric": "error_test", "value": e}
            for i, e in enumerate(errors)]
    rows += [{"arm": arm, "method": sg.DPO, "start": 500, "step": 600, "metric": f"dpo_{m}", "value": v}
             for m, v in (("chosen_logratio", chosen), ("rejected_logratio", -5.0), ("reward_margin", 1.0),
                          ("pair_accuracy", accuracy))]
    return rows


def test_the_rule_calls_a_collapse_only_when_chosen_falls_with_separated_pairs():
    sft = [{"arm": "SFT", "method": sg.SFT, "step": s, "metric": "error_test", "value": e}
           for s, e in ((0, 1.0), (500, 0.70), (1000, 0.57))]
    df = pd.DataFrame(sft + _arm("study", -0.5, 0.97, [0.70, 0.98, 0.90])
                      + _arm("DPOP", 0.2, 0.95, [0.70, 0.72, 0.68])
                      + _arm("lr 1e-4", -0.1, 0.60, [0.70, 0.75, 0.74])).assign(n_test=500, task="G(2,5,20)")
    v = probe.verdicts(df).set_index("arm")
    assert v.loc["study", "collapse"] and not v.loc["DPOP", "collapse"]
    assert not v.loc["lr 1e-4", "collapse"]  # chosen below 0, but the pairs are not separated
    assert v.loc["DPOP", "stops_collapse"] and not v.loc["lr 1e-4", "stops_collapse"]
    assert not v["transition"].any()  # 0.68 is not half of 0.70


def _wrong_at_node_2():
    """The smoke star task, its tokenizer, a training graph, its path and a sample of it that is right up
    to the node at index 2, where a node of no arm stands."""
    from synthrl.presets import get_preset

    cfg = get_preset("smoke").star
    task, tok = sg.task_of(cfg), sg.tokenizer_of(cfg)
    p = sg.graphs(cfg)[0][0]
    path = list(p.meta["path"])
    wrong = next(x for x in range(cfg.graph.n_nodes) if x not in path)
    return task, tok, p, path, wrong, [*path[:2], wrong, *path[3:]]


def test_self_explore_pairs_put_the_path_in_the_prompt_and_contrast_one_node():
    from synthrl.preference import encode_pair

    task, tok, p, path, wrong, sample = _wrong_at_node_2()
    # a repeat and the true path make no pair
    pairs = sg.token_pairs(task, sg.first_wrong(task, [p], [[sample, sample, path]]))
    assert len(pairs) == 1
    pair = pairs[0]
    assert pair["pit"] == 2 and pair["prompt"] == task.prompt(p) + f"{path[0]},{path[1]},"
    assert (pair["chosen"], pair["rejected"]) == (str(path[2]), str(wrong))
    ids = encode_pair(tok, pair)
    assert len(ids["chosen"]) == len(ids["rejected"]) == ids["n_prompt"] + 1  # one node each, no end token
    assert tok.eos_token_id not in ids["chosen"][ids["n_prompt"]:]
    # the paper's pair of the same sample, for contrast
    cut = sg.per_step_pairs(task, sg.first_wrong(task, [p], [[sample]]))[0]
    assert cut["pit"] == 2 and cut["chosen"] == p.solution


def test_fresh_pairs_take_one_pair_from_each_new_graph_and_none_from_sfts():
    import dataclasses

    from synthrl.models import build_model
    from synthrl.presets import get_preset
    from synthrl.sampling import HFSampler

    cfg = get_preset("smoke").star
    cfg = dataclasses.replace(cfg, dpo=dataclasses.replace(cfg.dpo, max_steps=5, batch_size=8))
    task, tok = sg.task_of(cfg), sg.tokenizer_of(cfg)
    sampler = HFSampler(build_model(cfg.model, tok, seed=0), tok, batch_size=64)  # an untrained model errs
    pairs = sg.fresh_pairs(cfg, task, sampler, "cut")
    graphs = [p["prompt"].split("=")[0] for p in pairs]
    assert len(pairs) == 5 * 8 and len(set(graphs)) == len(graphs)  # one pass, no graph twice
    sft_graphs = {p.question.split("=")[0] for p in sg.graphs(cfg)[0]}
    assert not set(graphs) & sft_graphs


class Continues:
    """A stand-in policy for Monte-Carlo pits: from a right prefix of fewer than `fails_from` nodes it
    writes the rest of the true path (decoded as the tokenizer would, space-separated); from any other
    prefix it stops at once (a wrong, unfinished path)."""

    def __init__(self, task, problems, tokenizer, fails_from: int):
        self.paths = {task.prompt(p): p.meta["path"] for p in problems}
        self.tokenizer, self.fails_from = tokenizer, fails_from
        self.calls = 0

    def sample(self, prompts, spec, prefixes=None):
        from synthrl.tasks.stargraph import predicted_path

        self.calls += 1
        out = []
        for prompt, prefix in zip(prompts, prefixes):
            path, done = self.paths[prompt], predicted_path(prefix)
            right = done == path[:len(done)] and len(done) < self.fails_from
            out.append([" ".join(map(str, path[len(done):])) if right else ""] * spec.n)
        return out


def test_estimated_pits_land_at_the_exact_wrong_node_or_before_it_never_after():
    task, tok, p, path, _, sample = _wrong_at_node_2()
    found = list(sg.first_wrong(task, [p], [[sample]]))  # exact pit: node 2
    assert [f[2] for f in found] == [2]

    def pits(fails_from):
        sampler = Continues(task, [p], tok, fails_from)
        return [f[2] for f in sg.estimated_pits(sampler, task, found, n_rollouts=4, seed=0)], sampler.calls

    assert pits(99) == ([2], 1)  # a policy that recovers from every right prefix: Q falls to 0 at the wrong node
    assert pits(1)[0] == [0]  # it fails after the start node already: the estimate lands two nodes early
    assert pits(0)[0] == [None]  # it fails from the bare prompt too: Q never falls below Q_0, no pit
    agreement = sg.pit_agreement([sg.Pitted(p, [], pit, 2) for pit in (2, 0, None, 2)])
    assert agreement == {"pit_at_exact": 0.5, "pit_before_exact": 0.25, "pit_none": 0.25}
    pairs = sg.per_step_pairs(task, sg.estimated_pits(Continues(task, [p], tok, 1), task, found, 4, 0))
    assert pairs[0]["rejected"] == str(path[0])  # cut where the estimate put the pit, a right prefix


def _judged(arm: str, start: int, error_dpo: float, transition: bool) -> dict:
    return {"arm": arm, "start": start, "has_pairs": True, "error_start": 0.7, "error_dpo": error_dpo,
            "error_sft": 0.55, "se": 0.03, "transition": transition}


def test_the_verdict_across_probes_counts_each_run_once_and_needs_one_transition(monkeypatch):
    from synthrl import verdicts as rules

    transitions = {500: False, 3000: False}
    study = pd.DataFrame({"method": sg.DPO, "start": [500, 3000], "start_kind": ["under-trained", "over-trained"]})
    monkeypatch.setattr("synthrl.results.load_results", lambda study_name, preset: study)
    monkeypatch.setattr(sg, "transition", lambda df, s: _judged("study", s, 0.6, transitions[s]))
    probes = {"a": [_judged("study", 500, 0.9, False), _judged("lr", 500, 0.56, False)],
              "b": [_judged("lr", 500, 0.56, False), _judged("new", 500, 0.30, False)]}
    monkeypatch.setattr(probe, "PROBES", {**dict.fromkeys(probes), "never run": None})
    monkeypatch.setattr(probe, "load", lambda name, preset: probes[name] if name in probes else
                        (_ for _ in ()).throw(FileNotFoundError(name)))
    monkeypatch.setattr(probe, "verdicts", pd.DataFrame)
    e = probe.evidence().set_index("source")
    assert list(e.runs) == [1, 2, 1] and list(e.transitions) == [0, 0, 0]  # "lr" from 500 counted in "a" only
    assert e.loc["b", "lowest against continued SFT"].startswith("new from 500: 0.300")
    c = probe.claims()
    assert c.verdict.tolist() == [rules.DOES_NOT, rules.NOT_TESTABLE]
    assert c.ours[0].startswith("not shown at cpu scale: none of 4 runs")
    probes["b"][1]["transition"] = True  # one transition anywhere: Fig. 8b reproduces, 8c becomes testable
    assert probe.claims().verdict.tolist() == [rules.REPRODUCES, rules.REPRODUCES]
    transitions[3000] = True
    assert probe.claims().verdict.tolist()[1] == rules.DOES_NOT
