"""The run cache: each stage's output under `SYNTHRL_HOME` (default ./runs), keyed by a hash of
its config and inputs, written to a temporary folder and renamed into place when complete, so an
interrupted run resumes from the last finished stage and never reads a half-written one.

A finished stage's `DONE` record lists each of its files with its size and digest, and a stage is
checked against it whenever it is asked for: a file missing, cut or changed is named (stage, key,
file, what differs) and the stage is rebuilt, never used. The digest is sha256 of the whole file up
to `FULL_DIGEST_BYTES`; above it (a 7B model's weights), sha256 of the size and `SAMPLED_BLOCKS`
blocks spread over the file, which catches a cut or a block overwritten where a block is read, and
costs a second instead of a minute. A check is made once per process while the files' sizes and
modification times stay as they were. Temporary folders left by processes that died mid-stage are
removed when that stage is next built.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

DONE = "DONE"
MANIFEST_FORMAT = 1
FULL_DIGEST_BYTES = 256 * 2**20  # our choice: every file of the kit's own models and data, whole
SAMPLED_BLOCKS, BLOCK_BYTES = 64, 2**20  # 64 MiB read of a larger file
_TMP = re.compile(r"^(?P<key>.+)\.tmp-(?P<pid>[0-9]+)$")
log = logging.getLogger(__name__)
_checked: dict[Path, tuple] = {}  # folder -> its files' (name, size, mtime) when last found intact


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
    if _intact(stage, final):
        return final
    locks = home / ".locks"  # beside the stages, so a stage folder holds only its keys
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(locks / f"{stage}-{key}.lock"):
        if _intact(stage, final):  # built by another worker while we waited
            return final
        remove_stale(final.parent)
        return _build(final, key, build)


def _build(final: Path, key: str, build: Callable[[Path], None]) -> Path:
    tmp = final.with_name(f"{key}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        build(tmp)
        _write_record(tmp)
        shutil.rmtree(final, ignore_errors=True)  # an incomplete or damaged earlier attempt
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _checked[final] = _signature(final)
    return final


def file_digest(path: Path) -> str:
    """sha256 of a file, whole up to FULL_DIGEST_BYTES, else of its size and SAMPLED_BLOCKS blocks."""
    size = path.stat().st_size
    h = hashlib.sha256()
    with path.open("rb") as f:
        if size <= FULL_DIGEST_BYTES:
            for chunk in iter(lambda: f.read(BLOCK_BYTES), b""):
                h.update(chunk)
            return "sha256:" + h.hexdigest()
        h.update(str(size).encode())
        for i in range(SAMPLED_BLOCKS):
            f.seek((size - BLOCK_BYTES) * i // (SAMPLED_BLOCKS - 1))
            h.update(f.read(BLOCK_BYTES))
        return "sampled-sha256:" + h.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.rglob("*") if f.is_file() and f.relative_to(folder).as_posix() != DONE)


def manifest(folder: Path) -> dict[str, dict]:
    """Each file of a stage folder (but DONE): {relative path: {"size", "digest"}}."""
    return {f.relative_to(folder).as_posix(): {"size": f.stat().st_size, "digest": file_digest(f)}
            for f in _files(folder)}


def _signature(folder: Path) -> tuple:
    """Each file's (name, size, mtime): what a folder found intact must still show to skip its check."""
    stats = [(f.relative_to(folder).as_posix(), f.stat()) for f in _files(folder)]
    return tuple((name, st.st_size, st.st_mtime_ns) for name, st in stats)


def damage(folder: Path) -> str | None:
    """What is wrong with a finished stage folder against its DONE record ("FILE: what"), or None."""
    try:
        record = json.loads((folder / DONE).read_text())
        files = record["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"{DONE}: not a readable record of the stage's files"
    for name, want in files.items():
        path = folder / name
        if not path.is_file():
            return f"{name}: missing"
        size = path.stat().st_size
        if size != want["size"]:
            return f"{name}: {size} bytes, where {want['size']} were written"
        if file_digest(path) != want["digest"]:
            return f"{name}: its contents changed since it was written (the digest differs)"
    return None


def _intact(stage: str, final: Path) -> bool:
    """Whether a finished stage may be used: checked against its DONE record (once per process while its
    files' sizes and times hold); a damaged one is named and left to be rebuilt."""
    done = final / DONE
    if not done.exists():
        return False
    signature = _signature(final)
    if _checked.get(final) == signature:
        return True
    if not done.read_text().strip():  # written before DONE listed the files: record them now, and say so
        log.warning("run cache: %s/%s was written before the cache checked its files; recording them now, "
                    "unchecked", stage, final.name)
        _write_record(final)
        _checked[final] = signature  # DONE is not in the signature
        return True
    found = damage(final)
    if found is not None:
        log.warning("run cache: %s/%s is damaged (%s): rebuilding it (%s)", stage, final.name, found, final)
        return False
    _checked[final] = signature
    return True


def _write_record(final: Path) -> None:
    from synthrl.datafiles import atomic_write_text

    atomic_write_text(final / DONE, json.dumps({"format": MANIFEST_FORMAT, "files": manifest(final)}, indent=1))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale(stage_folder: Path) -> list[Path]:
    """Remove the temporary folders (`KEY.tmp-PID`) of processes that are no longer running."""
    removed = []
    for tmp in stage_folder.glob("*.tmp-*") if stage_folder.is_dir() else ():
        m = _TMP.match(tmp.name)
        if m and tmp.is_dir() and int(m["pid"]) != os.getpid() and not _alive(int(m["pid"])):
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


def is_cached(stage: str, key: str, home: Path | None = None) -> bool:
    """Whether a stage is finished and intact (a damaged one is not: it will be rebuilt)."""
    return _intact(stage, (home or run_home()) / stage / key)
