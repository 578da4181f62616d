"""synthrl: a study kit for Setlur et al. 2024, "RL on Incorrect Synthetic Data Scales the
Efficiency of LLM Math Reasoning by Eight-Fold"."""
__version__ = "0.1.0"
