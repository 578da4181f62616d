"""Probes: why per-step DPO on the star graph shows no phase transition at cpu scale. Both run
per-step DPO on the star-graph study's own SFT run (the preset's graph, model and checkpoints; cached),
as the study does, with the preference trainer's per-step diagnostics kept.

- `star_collapse`: from iteration 500 (the study's first start, the shortcut just complete), the study's DPO
  config against DPOP (Pal et al.'s fix for a falling chosen likelihood), a lower beta (0.03) and a lower
  learning rate (1e-4): three candidate cures.
- `star_early`: the study's DPO config from iterations 100, 200 and 300, before the shortcut is complete
  (other path tokens about 0.56-0.59 right, the critical token 0.10-0.17, in the committed run): the paper
  starts its DPO at iteration 60 of its run.
- `star_pairs` (added after the first two ran): from 500, Self-Explore's pairs (`star_graph.token_pairs`:
  the path before the first wrong node in the prompt, the right node against the wrong one) against the
  paper's, each at the study's learning rate and at 1e-4 (the rate that kept the edge lookup in
  `star_collapse`).
- `star_long` (likewise): from 500, the two cures of `star_collapse` (DPOP; lr 1e-4) for 3x the steps.
- `star_fresh` (added after those four ran): from 500, pairs from new graphs, one per graph and no graph
  twice (`star_graph.fresh_pairs`, Bachmann & Nagarajan's regime, where memorizing is impossible), at the
  study's rate and at 1e-4, beside the same two arms on SFT's graphs.
- `star_pits` (added after those five ran): from 500, the paper's pairs cut at the first pit that Monte-Carlo
  rollouts find (`star_graph.estimated_pits`: Q of every prefix from the study's 8 rollouts under BoK K = 5,
  the paper's "min" definition; credit.py's estimator, as the negative study's) against the exact first wrong
  node the study cuts at, each at the study's rate and at 1e-4. Where the estimate put the pits is kept
  (metrics pit_at_exact, pit_before_exact, pit_none).

Rule, written before the runs. A transition is the study's rule (`star_graph.transition`: the test error
ends at or below half the start checkpoint's and more than 2 standard errors below continued SFT at the
same iteration). The collapse is the known DPO failure where the final chosen log-ratio is below 0 while
the pair accuracy is at least 0.9 (the pairs separated by pushing both sides down); an arm *stops* it if
its final chosen log-ratio is at or above 0 and its worst test error along the run stays below the
study arm's.

`python -m synthrl probe star NAME [--preset cpu]` writes data/results/probes/NAME__PRESET.csv.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import pandas as pd

from synthrl.cache import cache_key
from synthrl.config import to_dict
from synthrl.preference import DIAGNOSTICS
from synthrl.presets import get_preset
from synthrl.results import load_probe, provenance, save_probe, table
from synthrl.studies import star_graph as sg

# name -> the DPO starts and the arms (PreferenceConfig fields changed from the study's star DPO config)
PROBES = {
    "star_collapse": {"starts": (500,), "arms": {"study": {}, "DPOP": {"loss": "dpop"}, "beta 0.03": {"beta": 0.03},
                                                  "lr 1e-4": {"lr": 1e-4}}},
    "star_early": {"starts": (100, 200, 300), "arms": {"study": {}}},
    "star_pairs": {"starts": (500,), "arms": {"study": {}, "critical token": {"pairs": "token"}, "lr 1e-4": {"lr": 1e-4},
                                               "critical token, lr 1e-4": {"pairs": "token", "lr": 1e-4}}},
    "star_long": {"starts": (500,), "arms": {"DPOP, 3x steps": {"loss": "dpop", "max_steps": 1800},
                                              "lr 1e-4, 3x steps": {"lr": 1e-4, "max_steps": 1800}}},
    "star_fresh": {"starts": (500,), "arms": {"study": {}, "fresh graphs": {"fresh": True}, "lr 1e-4": {"lr": 1e-4},
                                               "fresh graphs, lr 1e-4": {"fresh": True, "lr": 1e-4}}},
    "star_pits": {"starts": (500,), "arms": {"study": {}, "estimated pits": {"pits": "min"}, "lr 1e-4": {"lr": 1e-4},
                                              "estimated pits, lr 1e-4": {"pits": "min", "lr": 1e-4}}},
}
COLLAPSE_ACCURACY = 0.9


def run(name: str, preset_name: str = "cpu") -> pd.DataFrame:
    """SFT's rows (arm "SFT") and every arm's per-step DPO rows, in the study's table shape plus `arm`."""
    probe = PROBES[name]
    started = time.perf_counter()
    preset = get_preset(preset_name)
    cfg = preset.star
    folder = sg.sft_run(cfg)
    g = cfg.graph
    common = {"study": name, "preset": preset_name, "task": f"G({g.d},{g.l},{g.n_nodes})",
              "n_problems": cfg.n_train, "n_test": cfg.n_test, "seed": cfg.seed}
    rows = [{**common, "arm": "SFT", "method": sg.SFT, **r} for r in sg.sft_rows(cfg, folder)]
    for arm, knobs in probe["arms"].items():
        knobs = dict(knobs)
        pair_kind, fresh, pits = knobs.pop("pairs", "cut"), knobs.pop("fresh", False), knobs.pop("pits", "exact")
        armed = dataclasses.replace(cfg, dpo=dataclasses.replace(cfg.dpo, **knobs))
        for start in probe["starts"]:
            rows += [{**common, "arm": arm, "method": sg.DPO, "start": start, "start_kind": "under-trained", **r}
                     for r in sg.dpo_run(armed, folder, start, pair_kind, fresh, pits)]
    return table(rows, provenance(cache_key(to_dict(cfg), name), time.perf_counter() - started))


def verdicts(df: pd.DataFrame) -> pd.DataFrame:
    """The rule of the docstring: one row per arm and start."""
    sft = df[df.arm == "SFT"]
    out = []
    for (arm, start), dpo in df[df.arm != "SFT"].groupby(["arm", "start"], sort=False):
        t = sg.transition(pd.concat([sft, dpo]), int(start))
        diag = dpo[dpo.metric.str.startswith("dpo_")]
        last = diag[diag.step == diag.step.max()].set_index("metric")["value"] if len(diag) else pd.Series(dtype=float)
        errors = dpo[dpo.metric == "error_test"]
        other = dpo[dpo.metric == "other_acc_test"].sort_values("step")["value"]
        row = {"arm": arm, "start": int(start), **t, "worst_error": errors["value"].max(),
               "other_acc_end": other.iloc[-1] if len(other) else float("nan"),
               **{m: last.get(f"dpo_{m}", float("nan")) for m in DIAGNOSTICS}}
        row["collapse"] = bool(row["chosen_logratio"] < 0 and row["pair_accuracy"] >= COLLAPSE_ACCURACY)
        out.append(row)
    v = pd.DataFrame(out)
    if "study" in set(v.arm):
        worst = v[v.arm == "study"].set_index("start")["worst_error"]
        v["stops_collapse"] = [None if a == "study" else bool(c >= 0 and w < worst[s])
                               for a, s, c, w in zip(v.arm, v.start, v.chosen_logratio, v.worst_error)]
    return v


def ledger(df: pd.DataFrame) -> pd.DataFrame:
    """The README's and notebook 06's table of a probe."""
    v = verdicts(df)
    yes = {True: "yes", False: "no", None: ""}
    return pd.DataFrame({
        "arm": v["arm"], "from": v["start"],
        "test error: start -> end (continued SFT)": [
            f"{a:.3f} -> {b:.3f} ({c:.3f})" if has else "no pairs: nothing to train on"
            for a, b, c, has in zip(v.error_start, v.error_dpo, v.error_sft, v.has_pairs)],
        "worst on the way": v["worst_error"].map(lambda x: f"{x:.3f}"),
        "other tokens at the end": v["other_acc_end"].map(lambda x: f"{x:.3f}"),
        "last step: pair accuracy, chosen / rejected log-ratio": [
            f"{a:.2f}, {c:+.2f} / {r:+.2f}" for a, c, r in zip(v.pair_accuracy, v.chosen_logratio, v.rejected_logratio)],
        "collapse": v["collapse"].map(yes),
        **({"stops it": v["stops_collapse"].map(yes)} if "stops_collapse" in v else {}),
        "transition": v["transition"].map(yes)})


def load(name: str, preset_name: str = "cpu") -> pd.DataFrame:
    return load_probe(name, preset_name, f"{name} probe")


def _starts(study: pd.DataFrame, kind: str) -> list[int]:
    dpo = study[(study.method == sg.DPO) & (study.start_kind == kind)]
    return sorted(int(x) for x in dpo.start.dropna().unique())


def evidence(preset_name: str = "cpu") -> pd.DataFrame:
    """Every committed per-step DPO run of the star graph from an under-trained start, judged by the
    study's transition rule: the study's starts, then each probe's arms (a probe not run on the preset
    is left out, and so is an arm with no pairs; an arm an earlier probe already ran is counted there).
    One row per source: its runs, how many transitioned, and the run that ended lowest against continued
    SFT at the same iteration."""
    return _evidence(_study(preset_name), preset_name)


def _study(preset_name: str) -> pd.DataFrame:
    from synthrl.results import load_results

    return load_results(sg.STUDY, preset_name)


def _evidence(study: pd.DataFrame, preset_name: str) -> pd.DataFrame:
    sources = {"study": pd.DataFrame([{"arm": "study", **sg.transition(study, s)}
                                      for s in _starts(study, "under-trained")])}
    for name in PROBES:
        try:
            sources[name] = verdicts(load(name, preset_name))
        except FileNotFoundError:
            continue
    out, seen = [], set()
    for name, v in sources.items():
        v = v[v.has_pairs.fillna(False).astype(bool)]
        if name != "study":  # an arm an earlier probe ran (the same cached run) counts once
            new = [(a, s) not in seen for a, s in zip(v.arm, v.start)]
            seen |= set(zip(v.arm, v.start))
            v = v[new]
        if v.empty:
            continue
        best = v.loc[(v.error_dpo - v.error_sft).idxmin()]
        out.append({"source": name, "runs": len(v), "transitions": int(v.transition.astype(bool).sum()),
                    "lowest against continued SFT": f"{best.arm} from {int(best.start)}: {best.error_dpo:.3f} "
                                                    f"vs {best.error_sft:.3f} (SE {best.se:.3f})"})
    return pd.DataFrame(out)


def claims(preset_name: str = "cpu") -> pd.DataFrame:
    """The verdicts on Figs. 8b and 8c across the study and every probe (`evidence`): the phase
    transition reproduces if any run transitioned, else it is not shown at this scale (does not
    reproduce); the over-trained start's absence of one is judged as the study judges it
    (`verdicts.absence`: not testable where no under-trained run transitioned)."""
    from synthrl import verdicts as rules

    study = _study(preset_name)
    e = _evidence(study, preset_name)
    runs, found = int(e.runs.sum()), int(e.transitions.sum())
    in_study = int(e[e.source == "study"].runs.sum())
    under = (f"{found} of {runs} runs transitioned" if found else
             f"not shown at {preset_name} scale: none of {runs} runs transitioned (the study's "
             f"{in_study} starts and {runs - in_study} probe arms)")
    over = [sg.transition(study, s) for s in _starts(study, "over-trained")]
    absent = not any(t.get("transition") for t in over)
    return pd.DataFrame([
        {"claim": "per-step DPO from an under-trained SFT checkpoint: phase transition (Fig. 8b), in the "
                  "study or any probe", "paper": "yes", "ours": under,
         "verdict": rules.REPRODUCES if found else rules.DOES_NOT},
        {"claim": "per-step DPO from the over-trained SFT checkpoint: no transition (Fig. 8c)", "paper": "no",
         "ours": ", ".join(f"from {t['start']}: " + ("a transition" if t.get("transition") else "none")
                           for t in over) or "no over-trained start",
         "verdict": rules.absence(absent, bool(found)) if over else rules.NOT_TESTABLE}])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(PROBES))
    ap.add_argument("--preset", default="cpu")
    args = ap.parse_args(argv)
    df = run(args.name, args.preset)
    print(f"wrote {save_probe(df, args.name, args.preset)}")
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(ledger(df).to_string(index=False))
    return 0
