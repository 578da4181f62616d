"""Probes: settings tried beside the studies, each recorded with its provenance under data/results/probes/.

Every probe runs as `python -m synthrl probe NAME [--preset P] [args]` (`synthrl.probes.cli`)."""
