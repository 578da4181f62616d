"""The README's generated tables: each sits between `<!-- marker: ... -->` and `<!-- /marker -->`
and is a function of the committed cpu results. `python -m synthrl readme` rewrites them in place;
tests/test_readme.py checks that the README holds exactly what these functions return.

(The library does not import a study: the results names and their modules come from the caller.)
"""
from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd


def markdown(table: pd.DataFrame) -> list[str]:
    """A DataFrame as markdown table lines (header, rule, one line per row, values as str)."""
    cells = lambda values: "| " + " | ".join(map(str, values)) + " |"  # noqa: E731
    return [cells(table.columns), cells(["---"] * len(table.columns)),
            *(cells(row) for row in table.astype(str).itertuples(index=False))]


def _block(text: str, marker: str) -> re.Match:
    match = re.search(rf"<!-- {re.escape(marker)}[:\s][^\n]*-->\n(.*?)<!-- /{re.escape(marker)} -->", text, re.S)
    if match is None:
        raise KeyError(f"the README has no generated block {marker!r}")
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
    """`text` with every named block regenerated; also the markers whose table could not be built
    (their results are missing), left as they were."""
    skipped = []
    for marker, make in tables.items():
        try:
            table = make()
        except FileNotFoundError:
            skipped.append(marker)
            continue
        text = replace(text, marker, table)
    return text, skipped
