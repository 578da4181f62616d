"""The generated blocks of the README and of every page under docs/: each sits between
`<!-- marker: ... -->` and `<!-- /marker -->` and is a function of the committed cpu results
(`tools/tables.py`). `python tools/docs.py` (`make docs`) rewrites every block in place;
tests/test_docs.py checks that each page holds exactly what these functions return.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OPENING = re.compile(r"^<!-- ([a-z0-9-]+)[:\s][^\n]*-->$", re.M)


def markdown(table: pd.DataFrame) -> list[str]:
    from synthrl.results import markdown as lines

    return lines(table)


def pages(root: Path = ROOT) -> list[Path]:
    """The README and every markdown page under docs/, in a stable order."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def markers(text: str) -> list[str]:
    """The generated blocks a page holds, in its order (an opening without its closing is an error)."""
    found = OPENING.findall(text)
    for marker in found:
        _block(text, marker)
    return found


def _block(text: str, marker: str) -> re.Match:
    match = re.search(rf"<!-- {re.escape(marker)}[:\s][^\n]*-->\n(.*?)<!-- /{re.escape(marker)} -->", text, re.S)
    if match is None:
        raise KeyError(f"no generated block {marker!r} (or its closing `<!-- /{marker} -->` is missing)")
    return match


def section(text: str, marker: str) -> str:
    """The text between a marker's opening comment line and its closing comment."""
    return _block(text, marker).group(1)


def rows(text: str, marker: str) -> list[str]:
    """A block's table rows (header and rule excluded)."""
    lines = [line for line in section(text, marker).splitlines() if line.startswith("| ")]
    return lines[2:]


def replace(text: str, marker: str, table: pd.DataFrame) -> str:
    """`text` with the block's content (empty or not) replaced by `table` as markdown."""
    start, end = _block(text, marker).span(1)
    return text[:start] + "\n".join(markdown(table)) + "\n" + text[end:]


def update(text: str, tables: dict[str, Callable[[], pd.DataFrame]]) -> tuple[str, list[str]]:
    """`text` with each of its blocks that `tables` names regenerated; also the markers whose table could
    not be built (their results are missing), left as they were."""
    skipped = []
    for marker in markers(text):
        if marker not in tables:
            continue
        try:
            table = tables[marker]()
        except FileNotFoundError:
            skipped.append(marker)
            continue
        text = replace(text, marker, table)
    return text, skipped


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))  # run as `python tools/docs.py`
    from synthrl.datafiles import atomic_write_text

    from tools.tables import tables

    made = tables()
    placed = set()
    for page in pages():
        text = page.read_text()
        found = markers(text)
        if unknown := [m for m in found if m not in made]:
            raise SystemExit(f"{page.relative_to(ROOT)}: no table function for the blocks {unknown} (tools/tables.py)")
        placed |= set(found)
        new, skipped = update(text, made)
        if new != text:
            atomic_write_text(page, new)
            print(f"{page.relative_to(ROOT)}: generated tables rewritten")
        for marker in skipped:
            print(f"{page.relative_to(ROOT)}: skip {marker}: its results are not committed")
    for marker in sorted(set(made) - placed):
        print(f"no page holds the block {marker!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
