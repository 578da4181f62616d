"""JSONL in and out: clear errors on bad input, atomic writes so nothing is lost."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class DataFormatError(ValueError):
    """A data file is malformed; the message names the file and the line."""


_COMPRESSED = {b"\x1f\x8b": "gzip", b"PK": "zip", b"BZ": "bzip2", b"\xfd7zXZ": "xz", b"(\xb5/\xfd": "zstd"}


def read_jsonl(path: str | Path, required: Iterable[str] = (), min_rows: int = 0) -> list[dict[str, Any]]:
    """Rows of a JSONL file (one JSON object a line, UTF-8; blank lines skipped), at least `min_rows` of
    them. A compressed or binary file, a line in another encoding, bad JSON and missing fields each
    raise a DataFormatError naming the file and line."""
    return [row for _, row in numbered_jsonl(path, required, min_rows)]


def numbered_jsonl(path: str | Path, required: Iterable[str] = (), min_rows: int = 0) -> list[tuple[int, dict]]:
    """`read_jsonl`'s rows with the line number of each, for errors that name a row's line."""
    path = Path(path)
    required = tuple(required)
    rows = []
    with path.open("rb") as f:
        head = f.read(8)
        for magic, kind in _COMPRESSED.items():
            if head.startswith(magic):
                raise DataFormatError(f"{path}: a {kind}-compressed file, not JSONL text; decompress it first")
        f.seek(0)
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataFormatError(f"{path}:{lineno}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column "
                                      f"{e.start + 1}); a binary file, or text in another encoding (latin-1?): "
                                      "re-save it as UTF-8") from None
            if "\x00" in line:
                raise DataFormatError(f"{path}:{lineno}: a NUL byte: a binary file, not JSONL text")
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataFormatError(f"{path}:{lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(row, dict):
                raise DataFormatError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            missing = [k for k in required if k not in row]
            if missing:
                raise DataFormatError(f"{path}:{lineno}: missing field(s) {missing}")
            rows.append((lineno, row))
    if len(rows) < min_rows:
        raise DataFormatError(f"{path}: {len(rows)} rows, at least {min_rows} needed"
                              + (" (the file is empty)" if not rows else ""))
    return rows


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write a file through a temporary file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> Path:
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def write_dataset(folder: str | Path, name: str, rows: list[dict[str, Any]]) -> Path:
    """Rows written twice under `folder`: NAME.jsonl, and NAME/ as a Hugging Face dataset on disk
    (`datasets.load_from_disk`), each replaced whole."""
    import shutil

    from datasets import Dataset

    folder = Path(folder)
    write_jsonl(folder / f"{name}.jsonl", rows)
    tmp = folder / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    Dataset.from_list(rows).save_to_disk(str(tmp))
    shutil.rmtree(folder / name, ignore_errors=True)
    os.replace(tmp, folder / name)
    return folder / name
