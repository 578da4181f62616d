"""The run cache: each stage's output under `SYNTHRL_HOME` (default ./runs), keyed by a hash of
its config and inputs, written to a temporary folder and renamed into place when complete, so an
interrupted run resumes from the last finished stage and never reads a half-written one."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

DONE = "DONE"


def repo_root() -> Path | None:
    """The checkout the package is installed from (editable install), if any."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").exists() else None


def run_home() -> Path:
    """$SYNTHRL_HOME, else runs/ at the top of the checkout (so the CLI and the notebooks, whatever
    their working folder, share one cache), else ./runs."""
    if "SYNTHRL_HOME" in os.environ:
        return Path(os.environ["SYNTHRL_HOME"])
    return (repo_root() or Path.cwd()) / "runs"


def checkpoint_id(checkpoint: str | Path) -> str:
    """What a cache key should say about a model: 'stage/key' for one of ours (wherever the run
    folder lives), the hub id or path otherwise."""
    path = Path(checkpoint)
    return f"{path.parent.name}/{path.name}" if (path / DONE).exists() else str(checkpoint)


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot hash {type(obj).__name__} into a cache key")


def cache_key(*parts: Any) -> str:
    """A stable 16-hex-digit key for JSON-able parts (dataclasses included)."""
    blob = json.dumps(parts, sort_keys=True, default=_plain)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cached_dir(stage: str, key: str, build: Callable[[Path], None], home: Path | None = None) -> Path:
    """The folder `home/stage/key`, built by `build(tmp_folder)` only if not already complete.
    Workers that ask for the same key at once (a study's cells on Ray) take a file lock: one
    builds, the others wait and read its result."""
    from filelock import FileLock

    home = home or run_home()
    final = home / stage / key
    if (final / DONE).exists():
        return final
    locks = home / ".locks"  # beside the stages, so a stage folder holds only its keys
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(locks / f"{stage}-{key}.lock"):
        if (final / DONE).exists():  # built by another worker while we waited
            return final
        return _build(final, key, build)


def _build(final: Path, key: str, build: Callable[[Path], None]) -> Path:
    tmp = final.with_name(f"{key}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        build(tmp)
        (tmp / DONE).write_text("")
        shutil.rmtree(final, ignore_errors=True)  # an incomplete earlier attempt
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def is_cached(stage: str, key: str, home: Path | None = None) -> bool:
    return ((home or run_home()) / stage / key / DONE).exists()
