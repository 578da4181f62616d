"""The tidy results table (design.md, Results): one measurement a row, with provenance."""
from __future__ import annotations

import os
import platform
import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from synthrl import __version__
from synthrl.cache import repo_root
from synthrl.datafiles import DataFormatError, atomic_write_text

COLUMNS = ["study", "preset", "task", "method", "n_problems", "seed", "step", "metric", "value",
           "config_hash", "synthrl_version", "git_commit", "wall_s", "device", "created_at"]
# Written into every row of a results file: how many rows the file holds, so a file cut at a row boundary
# says so when read (`read_table`) instead of being drawn as if whole. Dropped again on reading.
FILE_ROWS = "file_rows"
TEXT_COLUMNS = ("config_hash", "synthrl_version", "git_commit", "device", "created_at",  # "1308e95" is no number
                "label")  # a step label ("right", "wrong", ...) where set, empty elsewhere: read as text throughout


def data_dir() -> Path:
    """The kit's data/ folder: $SYNTHRL_DATA, else data/ at the top of the checkout, else ./data."""
    if "SYNTHRL_DATA" in os.environ:
        return Path(os.environ["SYNTHRL_DATA"])
    return (repo_root() or Path.cwd()) / "data"


def git_commit() -> str:
    """The checkout's short commit, with "+dirty" when the package's code has uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=Path(__file__).parent,
                              timeout=5).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        return (commit + ("+dirty" if git("status", "--porcelain", "--", ".") else "")) if commit else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_name() -> str:
    """The machine a run used; for a CPU, whether it has native bf16 (which decides the training
    precision of a preset whose `ModelConfig.cpu_bf16` is None, `hardware.train_bf16`)."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    from synthrl.hardware import cpu_model, has_amx, native_bf16

    bf16 = ("native bf16" + (", AMX" if has_amx() else "")) if native_bf16() else "no native bf16"
    parts = [cpu_model(), platform.machine(), f"{os.cpu_count()} cores", bf16, f"torch {torch.__version__}"]
    return f"cpu ({', '.join(p for p in parts if p)})"


def provenance(config_hash: str, wall_s: float) -> dict:
    return {"config_hash": config_hash, "synthrl_version": __version__, "git_commit": git_commit(),
            "wall_s": round(wall_s, 1), "device": device_name(),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def table(rows: list[dict], prov: dict) -> pd.DataFrame:
    """Rows (each with at least study..value) plus the same provenance: the standard columns
    first, then any a study adds (e.g. n_rollouts)."""
    df = pd.DataFrame([{**{c: None for c in COLUMNS}, **prov, **r} for r in rows])
    return df[COLUMNS + [c for c in df.columns if c not in COLUMNS]]  # a study's own columns last


def to_csv(df: pd.DataFrame) -> str:
    """A results table as the CSV text every results file is written as (with its row count)."""
    return df.drop(columns=FILE_ROWS, errors="ignore").assign(**{FILE_ROWS: len(df)}).to_csv(index=False)


def read_table(path: Path, required: tuple[str, ...] = ("metric", "value")) -> pd.DataFrame:
    """A results, cell or probe CSV, checked: readable text, the `required` columns, and as many rows as
    were written (where the file records it). Every problem names the file."""
    try:
        df = pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataFormatError(f"{path}: not a readable results CSV ({type(e).__name__}: {e})") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataFormatError(f"{path}: missing column(s) {missing} (it has {list(df.columns)[:8]}...)")
    if FILE_ROWS in df.columns:
        written = set(df[FILE_ROWS].dropna().astype(int))
        if written != {len(df)}:
            raise DataFormatError(f"{path}: {len(df)} rows, where {sorted(written)} were written: the file was "
                                  "cut or edited; restore it (git checkout) or recompute it")
        df = df.drop(columns=FILE_ROWS)
    return df


def results_path(study: str, preset: str) -> Path:
    return data_dir() / "results" / f"{study}__{preset}.csv"


def save_results(df: pd.DataFrame, study: str, preset: str) -> Path:
    return atomic_write_text(results_path(study, preset), to_csv(df))


def cell_path(study: str, preset: str, cell: str) -> Path:
    """Where one cell of a study lives, its rows committed as it finishes:
    data/results/cells/STUDY__PRESET/CELL.csv (the study's CSV is the merge of its cells)."""
    safe = re.sub(r"[^A-Za-z0-9._=-]+", "_", cell)
    return data_dir() / "results" / "cells" / f"{study}__{preset}" / f"{safe}.csv"


def save_cell(rows: list[dict], study: str, preset: str, cell: str, config_hash: str, wall_s: float,
              commit: str | None = None) -> Path:
    """A finished cell's rows with their own provenance (the cell's config hash and wall time, and the
    commit its run started from: a run of hours outlives commits made beside it), written atomically."""
    prov = provenance(config_hash, wall_s)
    df = table([{**r, "cell": cell} for r in rows], {**prov, "git_commit": commit or prov["git_commit"]})
    return atomic_write_text(cell_path(study, preset, cell), to_csv(df))


def load_cell(study: str, preset: str, cell: str, config_hash: str) -> list[dict] | None:
    """A committed cell's rows if it was computed from the same config (`config_hash`); None if it is
    missing or stale. A file that cannot be read as a cell says which file and why."""
    path = cell_path(study, preset, cell)
    if not path.exists():
        return None
    try:
        df = read_table(path, required=(*COLUMNS, "cell"))
    except DataFormatError as e:
        raise DataFormatError(f"{e}; as a cell file, delete it to recompute the cell") from None
    if df.empty:
        raise DataFormatError(f"{path}: a cell file with no rows; delete it to recompute the cell")
    if set(df["config_hash"]) != {config_hash}:
        return None
    return records(df)


def records(df: pd.DataFrame) -> list[dict]:
    """The table's rows as dicts, each without the columns it has no value in (NaN)."""
    return [{k: v for k, v in r.items() if not (isinstance(v, float) and v != v)} for r in df.to_dict("records")]


def probe_path(name: str, preset: str) -> Path:
    """Where a probe's results live: data/results/probes/NAME__PRESET.csv."""
    return data_dir() / "results" / "probes" / f"{name}__{preset}.csv"


def save_probe(df: pd.DataFrame, name: str, preset: str) -> Path:
    return atomic_write_text(probe_path(name, preset), to_csv(df))


def load_probe(name: str, preset: str, what: str) -> pd.DataFrame:
    """A committed probe's rows; `what` names it in the error when it is missing."""
    path = probe_path(name, preset)
    if not path.exists():
        raise FileNotFoundError(f"no committed {what} at {path}")
    return read_table(path)


def load_results(study: str, preset: str) -> pd.DataFrame:
    path = results_path(study, preset)
    if not path.exists():
        raise FileNotFoundError(f"no results for {study} on preset {preset!r} at {path}; "
                                f"run `python -m synthrl run {study} --preset {preset}` first")
    return read_table(path, required=("study", "preset", "method", "metric", "value", "config_hash", "git_commit"))


def curve(results: pd.DataFrame, metric: str, **equals) -> pd.DataFrame:
    """One metric's rows whose columns equal `equals` (e.g. method="SFT", start=500), by step."""
    rows = results[results.metric == metric]
    for column, value in equals.items():
        rows = rows[rows[column] == value]
    return rows.sort_values("step")


def markdown(table: pd.DataFrame) -> list[str]:
    """A DataFrame as markdown table lines (header, rule, one line per row, values as str)."""
    cells = lambda values: "| " + " | ".join(map(str, values)) + " |"  # noqa: E731
    return [cells(table.columns), cells(["---"] * len(table.columns)),
            *(cells(row) for row in table.astype(str).itertuples(index=False))]


def study_wall_times(preset: str, studies: list[str]) -> pd.DataFrame:
    """Each committed study's wall time, commit and machine, from its results file's provenance."""
    rows = []
    for study in studies:
        path = results_path(study, preset)
        if not path.exists():
            continue
        df = read_table(path)
        first = df.iloc[0]
        wall = first.wall_s
        if "cell" in df and df["cell"].notna().any():  # computed in parts: its cells' times, summed
            wall = df.dropna(subset=["cell"]).groupby("cell")["wall_s"].first().sum()
        commits = ", ".join(dict.fromkeys(df.git_commit.dropna()))  # each commit its rows ran from, in order
        rows.append({"study": study, "wall time": f"{wall / 60:.1f} min", "commit": commits,
                     "device": first.device, "run": str(first.created_at)[:10]})
    return pd.DataFrame(rows)
