"""Reading without running: each study notebook executed on the `cpu` preset, which loads the committed
results (seconds, no training), and written as HTML with its figures under docs/notebooks/ (`make html`).

Cells tagged `explore` (the explorers and inspectors, which re-run cells or need a live kernel) are left
out and a line says where to run them. Needs the notebook extras (papermill, nbconvert: `.[notebook]`).
"""
from __future__ import annotations

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


def render(name: str, preset: str = "cpu", out_dir: Path | None = None) -> Path:
    """Execute notebooks/NAME.ipynb on `preset` without its explore cells and write NAME.html."""
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
        body, _ = HTMLExporter(template_name="lab").from_notebook_node(nbformat.read(executed, as_version=4))
    return atomic_write_text((out_dir or html_dir()) / f"{name}.html", body)


def render_all(preset: str = "cpu", names: tuple[str, ...] = STUDY_NOTEBOOKS) -> list[Path]:
    from tqdm.auto import tqdm

    return [render(name, preset) for name in tqdm(names, desc="notebooks to HTML")]
