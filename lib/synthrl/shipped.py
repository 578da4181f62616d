"""A preset's pi_base, pretrained once and shipped under data/models (`make pi-base`), as a base
model is downloaded from a hub: the kit's studies then start from it instead of pretraining for
minutes. A shipped checkpoint is used only when its provenance names the preset's own pi_base
cache key, so a changed config never reads a stale model."""
from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

from synthrl.config import Preset

PRETRAIN_FIELDS = ("task", "world", "model", "n_pretrain_docs", "pretrain_solved", "pretrain", "seed",
                   "pretrain_worlds", "pretrain_style", "pretrain_unsolved_ops")


def shipped_dir(preset_name: str) -> Path:
    from synthrl.results import data_dir

    return data_dir() / "models" / f"pi_base__{preset_name}"


def shipped_pi_base(preset_name: str, key: str) -> Path | None:
    """The shipped pi_base of a preset, if it was built from the same config; None otherwise."""
    prov = shipped_dir(preset_name) / "provenance.json"
    if not prov.exists():
        return None
    return prov.parent if json.loads(prov.read_text()).get("cache_key") == key else None


def copy_checkpoint(source: Path, folder: Path) -> None:
    for f in source.iterdir():
        if f.is_file() and f.name not in ("provenance.json", "DONE"):
            shutil.copy2(f, folder / f.name)


def ship_pi_base(preset: Preset, folder: Path, key: str, log: dict) -> Path:
    """Write the preset's pretrained pi_base (`folder`, its cache key and training log, from
    `synthrl.pipeline`) with its provenance to data/models/pi_base__<preset>, atomically: a temporary
    folder, then a rename."""
    from synthrl.results import device_name, git_commit

    out = shipped_dir(preset.name)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    copy_checkpoint(folder, tmp)
    config = {k: v for k, v in dataclasses.asdict(preset).items() if k in PRETRAIN_FIELDS}
    (tmp / "provenance.json").write_text(json.dumps({
        "cache_key": key, "preset": preset.name, "git_commit": git_commit(), "device": device_name(),
        "pretrain_wall_s": round(log["wall_s"], 1), "tokens": log["tokens"],
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "config": config},
        indent=1, default=str))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out
