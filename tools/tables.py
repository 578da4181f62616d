"""Every generated block of the README and the docs pages: marker -> a function that builds its table
from the committed results. Repository upkeep, not the library: it imports every study and probe.
"""
from __future__ import annotations

import pandas as pd

from synthrl.cli import RESULTS, study_module

# results name -> its notebook; the notebooks rendered as HTML pages (`make html`) are under docs/notebooks
NOTEBOOKS = {"quickstart": "00_quickstart", "positive_scaling": "02_positive_scaling", "rft_spurious": "03_rft_spurious",
             "negative_scaling": "04_negative_scaling", "q_values": "05_q_values", "star_graph": "06_star_graph"}


def findings(preset: str = "cpu") -> pd.DataFrame:
    """One row per claim of every study (its ablations are on its page under docs/results): the study,
    linked to its notebook and rendered page, and the claim, the paper's value, ours and the verdict."""
    from pathlib import Path

    from synthrl.results import load_results

    root = Path(__file__).resolve().parents[1]
    parts = []
    for name, notebook in NOTEBOOKS.items():
        page = f"docs/notebooks/{notebook}.html"
        link = f"[{notebook[:2]}](notebooks/{notebook}.ipynb)" + (f" ([html]({page}))" if (root / page).exists() else "")
        claims = study_module(name).claims(load_results(name, preset))
        parts.append(claims[["claim", "paper", "ours", "verdict"]].assign(study=link))
    table = pd.concat(parts, ignore_index=True)
    return table[["study", "claim", "paper", "ours", "verdict"]]


def tables(preset: str = "cpu") -> dict:
    """Every generated block: marker -> a function building its table from the committed results."""
    from synthrl.regime import check
    from synthrl.results import load_results, study_wall_times
    from synthrl.probes import regime as regime_probe

    def claims(name):
        return lambda: study_module(name).claims(load_results(name, preset))

    def regime():
        table = check(load_results("positive_scaling", preset))
        return table.assign(holds=table["holds"].map({True: "yes", False: "no"}))

    def probes():
        found = regime_probe.committed()
        if not found:
            raise FileNotFoundError("no committed regime probes")
        return regime_probe.ledger(found)

    def means(name):
        return lambda: study_module(name).means_table(load_results(name, preset))

    tables = {name.replace("_", "-") + "-claims": claims(name) for name in RESULTS}
    scaling = {name.replace("_", "-") + "-means": means(name) for name in RESULTS
               if name.startswith("positive_scaling") or name == "negative_scaling"}
    def answer_checks():
        from synthrl.probes import answer_checks as study

        return study.means_table(load_results(study.STUDY, preset))

    def bench():
        from synthrl.bench import suite as study

        return study.table(load_results(study.STUDY, preset))

    def train_overhead():
        from synthrl.bench import train_options as train_probe

        return train_probe.ledger(train_probe.committed(preset))

    def recipe(what):
        from synthrl.bench import recipe as recipe_probe

        if what == "speed":
            return recipe_probe.speed_table(recipe_probe.committed_speed(preset))
        adoption = recipe_probe.committed_adoption(preset)
        return recipe_probe.judge(adoption) if what == "adoption" else recipe_probe.wall_table(adoption)

    def lucky():
        from synthrl.probes import lucky as lucky_probe

        return lucky_probe.ledger(lucky_probe.committed(preset))

    def negative_knobs():
        from synthrl.probes import negative as negative_probe

        return negative_probe.ledger(negative_probe.committed(preset), preset)

    def star(name):
        from synthrl.probes import star as star_probe

        return lambda: star_probe.ledger(star_probe.load(name, preset))

    def star_across(what):  # the verdict across the star-graph study and every probe of it
        from synthrl.probes import star as star_probe

        return getattr(star_probe, what)(preset)

    def gpu_quickstart(what):  # the one gpu-preset run, on a lent GPU (docs/gpu.md)
        from synthrl.studies import quickstart

        results = load_results("quickstart", "gpu")
        return quickstart.claims(results) if what == "claims" else quickstart.ledger(results)

    return {"findings": lambda: findings(preset), **tables, **scaling, "regime-results": regime, "regime-probes": probes, "answer-checks": answer_checks,
            "bench-results": bench, "train-overhead-probe": train_overhead, "lucky-probe": lucky,
            "train-recipe-speed": lambda: recipe("speed"), "train-recipe-adoption": lambda: recipe("adoption"),
            "train-recipe-walls": lambda: recipe("walls"),
            "study-wall-times": lambda: study_wall_times(preset, list(RESULTS)),
            "negative-knobs-probe": negative_knobs, "quickstart-gpu-results": lambda: gpu_quickstart("results"),
            "quickstart-gpu-claims": lambda: gpu_quickstart("claims"),
            **{f"{name.replace('_', '-')}-probe": star(name)
               for name in ("star_collapse", "star_early", "star_pairs", "star_long", "star_fresh", "star_pits")},
            "star-evidence": lambda: star_across("evidence"), "star-verdict": lambda: star_across("claims")}


def main() -> int:
    from synthrl.results import markdown

    for marker, make in tables().items():
        print(f"<!-- {marker} -->")
        try:
            print("\n".join(markdown(make())))
        except FileNotFoundError as e:
            print(f"not committed: {e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
