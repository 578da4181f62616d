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
    linked to its notebook and rendered page, its setting (blank for a study with one), and the claim, the
    paper's value, ours and the verdict."""
    from pathlib import Path

    from synthrl.results import load_results

    root = Path(__file__).resolve().parents[1]
    parts = []
    for name, notebook in NOTEBOOKS.items():
        page = f"docs/notebooks/{notebook}.html"
        link = f"[{notebook[:2]}](notebooks/{notebook}.ipynb)" + (f" ([html]({page}))" if (root / page).exists() else "")
        claims = study_module(name).claims(load_results(name, preset))
        setting = claims["setting"] if "setting" in claims else ""
        parts.append(claims[["claim", "paper", "ours", "verdict"]].assign(study=link, setting=setting))
    table = pd.concat(parts, ignore_index=True)
    return table[["study", "setting", "claim", "paper", "ours", "verdict"]]


def tables(preset: str = "cpu") -> dict:
    """Every generated block: marker -> a function building its table from the committed results."""
    from synthrl.bench import recipe, suite, train_options
    from synthrl.probes import answer_checks, lucky, negative, regime, reproduce, star
    from synthrl.regime import check
    from synthrl.results import load_results, results_path, study_wall_times
    from synthrl.studies import quickstart

    # a study's or ablation's blocks where its results are committed for the preset (the cpu preset
    # trains RFT-1 in the main study, so its one-positive ablation has no results of its own)
    committed = [name for name in RESULTS if results_path(name, preset).exists()]

    def claims(name):
        return lambda: study_module(name).claims(load_results(name, preset))

    def means(name):
        return lambda: study_module(name).means_table(load_results(name, preset))

    def regime_check():
        table = check(load_results("positive_scaling", preset))
        return table.assign(holds=table["holds"].map({True: "yes", False: "no"}))

    def regime_probes():
        found = regime.committed()
        if not found:
            raise FileNotFoundError("no committed regime probes")
        return regime.ledger(found)

    def recipe_table(what):
        if what == "speed":
            return recipe.speed_table(recipe.committed_speed(preset))
        adoption = recipe.committed_adoption(preset)
        return recipe.judge(adoption) if what == "adoption" else recipe.wall_table(adoption)

    def gpu_quickstart(what):  # the one gpu-preset run, on a lent GPU (docs/gpu.md)
        results = load_results("quickstart", "gpu")
        return quickstart.claims(results) if what == "claims" else quickstart.ledger(results)

    return {
        "findings": lambda: findings(preset),
        **{name.replace("_", "-") + "-claims": claims(name) for name in committed},
        **{name.replace("_", "-") + "-means": means(name) for name in committed
           if name.startswith("positive_scaling") or name == "negative_scaling"},
        "regime-results": regime_check, "regime-probes": regime_probes,
        "answer-checks": lambda: answer_checks.means_table(load_results(answer_checks.STUDY, preset)),
        "bench-results": lambda: suite.table(load_results(suite.STUDY, preset)),
        "train-overhead-probe": lambda: train_options.ledger(train_options.committed(preset)),
        "train-recipe-speed": lambda: recipe_table("speed"), "train-recipe-adoption": lambda: recipe_table("adoption"),
        "train-recipe-walls": lambda: recipe_table("walls"),
        "study-wall-times": lambda: study_wall_times(preset, list(RESULTS)),
        # each results page's source: the run's measured time, commits and machine, from the file's provenance
        **{name.replace("_", "-") + "-source": (lambda name=name: study_wall_times(preset, [name]))
           for name in committed},
        "lucky-probe": lambda: lucky.ledger(lucky.committed(preset)),
        "reproduce-probe": lambda: reproduce.ledger(reproduce.committed(preset)),
        "negative-knobs-probe": lambda: negative.ledger(negative.committed(preset), preset),
        "quickstart-results": lambda: quickstart.ledger(load_results("quickstart", preset)),
        "quickstart-gpu-results": lambda: gpu_quickstart("results"),
        "quickstart-gpu-claims": lambda: gpu_quickstart("claims"),
        **{f"{name.replace('_', '-')}-probe": (lambda name=name: star.ledger(star.load(name, preset)))
           for name in ("star_collapse", "star_early", "star_pairs", "star_long", "star_fresh", "star_pits")},
        "star-evidence": lambda: star.evidence(preset), "star-verdict": lambda: star.claims(preset),
    }


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
