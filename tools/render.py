"""Reading without running: each study notebook executed on the `cpu` preset, which loads the committed
results (seconds, no training), and written as HTML with its figures under docs/notebooks/ (`make html`,
`python tools/render.py [NAME ...]`).

Cells tagged `explore` (the explorers and inspectors, which re-run cells or need a live kernel) are left
out and a line says where to run them. Needs the notebook extras (papermill, nbconvert: `.[notebook]`).
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

from synthrl.cache import repo_root
from synthrl.datafiles import atomic_write_text

STUDY_NOTEBOOKS = ("02_positive_scaling", "03_rft_spurious", "04_negative_scaling", "05_q_values", "06_star_graph")
EXPLORE_TAG = "explore"
LEFT_OUT = ("*An explore section runs here in JupyterLab (`make lab`): its controls re-run a small cell "
            "and redraw. This page shows the committed `cpu` results only.*")
CELL_TIMEOUT_S = 600


def notebooks_dir() -> Path:
    return (repo_root() or Path.cwd()) / "notebooks"


def html_dir() -> Path:
    return (repo_root() or Path.cwd()) / "docs" / "notebooks"


def without_explore(nb):
    """The notebook with every `explore`-tagged cell replaced by one markdown line (a run of them by one)."""
    import nbformat

    cells = []
    for cell in nb.cells:
        if EXPLORE_TAG not in cell.get("metadata", {}).get("tags", []):
            cells.append(cell)
        elif not cells or cells[-1].get("source") != LEFT_OUT:
            cells.append(nbformat.v4.new_markdown_cell(LEFT_OUT))
    nb.cells = cells
    return nb


def one_parameters_cell(nb):
    """The executed notebook with papermill's injected parameters written into the notebook's own
    parameters cell, and the injected cell dropped: a page shows the parameters once, as run."""
    injected = [c for c in nb.cells if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    own = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if injected and own:
        own[0].source = injected[0].source
        nb.cells = [c for c in nb.cells if c is not injected[0]]
    return nb


STYLESHEET = "notebook.css"
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S)
_SCRIPT = re.compile(r"<script[^>]*>.*?</script>", re.S)
_HEAD = re.compile(r"<head>.*?</head>", re.S)
_PRE = re.compile(r"(<pre[^>]*>.*?</pre>)", re.S)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def static_page(html: str, title: str) -> tuple[str, str]:
    """nbconvert's page split into a static page and the theme's stylesheet, shared by every page. The head's
    <style> blocks (the lab theme) move to the sheet; the head's scripts (MathJax, require.js, mermaid: for
    math, widgets and diagrams, none of which a rendered study page holds) are dropped; the body's own styles
    (pandas' tables) stay in the page. Without this each page repeats about 7,800 lines of the same theme.
    Styles are kept a block a line, and the page's lines are joined outside <pre> (generated, not read).
    The page is nbconvert's output of our own notebooks, whose cell outputs it has escaped."""
    found = _HEAD.search(html)
    if found is None:
        raise ValueError(f"{title}: nbconvert's page has no <head>")
    css = "\n".join(dict.fromkeys(_one_line(block) for block in _STYLE.findall(found.group(0))))
    head = (f'<head><meta charset="utf-8"/><meta content="width=device-width, initial-scale=1.0" name="viewport"/>'
            f'<title>{title}</title><link rel="stylesheet" href="{STYLESHEET}"/></head>')
    body = _STYLE.sub(lambda m: _one_line(m.group(0)), _SCRIPT.sub("", html[found.end():]))
    page = html[:found.start()] + head + body
    # line breaks are kept only inside <pre> (code and text output); elsewhere a space renders the same
    return "".join(part if part.startswith("<pre") else part.replace("\n", " ")
                   for part in _PRE.split(page)), css + "\n"


def render(name: str, preset: str = "cpu", out_dir: Path | None = None) -> Path:
    """Execute notebooks/NAME.ipynb on `preset` without its explore cells and write NAME.html, beside the
    shared stylesheet (`static_page`)."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    source = notebooks_dir() / f"{name}.ipynb"
    if not source.exists():
        raise FileNotFoundError(f"no notebook {source}")
    with tempfile.TemporaryDirectory(prefix="synthrl-render-") as tmp:
        trimmed, executed = Path(tmp) / source.name, Path(tmp) / f"executed-{source.name}"
        nbformat.write(without_explore(nbformat.read(source, as_version=4)), trimmed)
        papermill.execute_notebook(str(trimmed), str(executed), parameters={"preset": preset}, kernel_name="python3",
                                   cwd=str(notebooks_dir()), progress_bar=False, execution_timeout=CELL_TIMEOUT_S)
        body, _ = HTMLExporter(template_name="lab").from_notebook_node(one_parameters_cell(
            nbformat.read(executed, as_version=4)))
    page, css = static_page(body, name)
    folder = out_dir or html_dir()
    atomic_write_text(folder / STYLESHEET, css)  # the same theme for every page
    return atomic_write_text(folder / f"{name}.html", page)


def render_all(preset: str = "cpu", names: tuple[str, ...] = STUDY_NOTEBOOKS) -> list[Path]:
    from tqdm.auto import tqdm

    return [render(name, preset) for name in tqdm(names, desc="notebooks to HTML")]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks to render (default: every study notebook)")
    for path in render_all("cpu", tuple(parser.parse_args(argv).names) or STUDY_NOTEBOOKS):
        print(f"html: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
