"""synthrl: a study kit for Setlur et al. 2024, "RL on Incorrect Synthetic Data Scales the
Efficiency of LLM Math Reasoning by Eight-Fold"."""
import os

__version__ = "0.1.0"

# The kit runs offline, and nothing it runs may reach the network: TRL asks huggingface_hub to send the Hub a
# telemetry request, from a background thread, whenever a trainer starts. Off unless a user turns it on (the
# variable is read when huggingface_hub is first imported, so this comes before any of ours imports it).
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def quiet_libraries() -> None:
    """Hide the libraries' per-stage progress bars and info logs (ours stay). Called by the CLI,
    the notebooks and the tests; the library itself never changes global logging on import."""
    import logging

    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    for noisy in ("httpx", "datasets", "transformers", "trl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
