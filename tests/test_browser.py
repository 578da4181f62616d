"""The notebooks as a researcher meets them: JupyterLab in a headless Chromium runs every notebook in the
smoke preset through its menu, no cell may show an error, and one control of each explore section is moved
and must change the output it drives. Screenshots of each explorer go to artifacts/browser/ (git-ignored).

Skipped, with the reason, where no Chromium or Playwright is installed (`.ci/run` installs Debian's
chromium). Where the browser tests run, they are the notebooks' execution test too: test_notebooks.py
then only runs them through papermill where no browser can.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from lab_driver import (browser, browser_missing, jupyter_home, jupyterlab, move_control, open_notebook, output_signature,
                        run_all_cells, shut_down_kernel, wait_for_change)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ARTIFACTS = ROOT / "artifacts" / "browser"

needs_browser = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))

# One control of each explore section, found by its kind and label: (kind, label). A button re-runs a small
# cell (cached in smoke: seconds); a slider or dropdown redraws what it drives.
EXPLORE = {
    "00_quickstart": [],
    "01_synthetic_data": [("slider", "seed")],
    "02_positive_scaling": [("button", "run")],
    "03_rft_spurious": [("button", "run"), ("dropdown", "positives with")],
    "04_negative_scaling": [("button", "run")],
    "05_q_values": [("dropdown", "trace")],
    "06_star_graph": [("button", "run")],
}
RUN_ALL_TIMEOUT_S = 400  # 04's smoke study is the longest, under 2 minutes beside other tests
CONTROL_TIMEOUT_S = 300  # 02's explorer re-runs smoke cells: beside the suite's other tests on 2 cores it took over 180 s once
TRACEBACK = "Traceback (most recent call last)"


def test_every_notebook_has_its_explore_controls_listed():
    assert sorted(EXPLORE) == [p.stem for p in NOTEBOOKS]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One JupyterLab for the module, serving the notebooks parameterised to smoke (as papermill injects
    them), copied so that the committed ones are never saved with outputs; its own run cache and data."""
    from papermill.iorw import load_notebook_node, write_ipynb
    from papermill.parameterize import parameterize_notebook

    root = tmp_path_factory.mktemp("lab")
    served = root / "notebooks"
    served.mkdir()
    for path in NOTEBOOKS:
        write_ipynb(parameterize_notebook(load_notebook_node(str(path)), {"preset": "smoke"}, kernel_name="python3"),
                    str(served / path.name))
    env = {**os.environ, "SYNTHRL_HOME": str(root / "runs"), "SYNTHRL_DATA": str(root / "data")}
    with jupyterlab(served, env, root / "lab.log") as (base, token), browser() as chrome:
        yield base, token, chrome


@needs_browser
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_the_browser_and_its_controls_redraw(lab, path):
    base, token, chrome = lab
    context = chrome.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        open_notebook(page, base, token, path.name)
        cells = run_all_cells(page, RUN_ALL_TIMEOUT_S)
        errors = [e for c in cells for e in c["errors"]]
        assert not errors, f"{path.name}: cells show errors {errors}"
        assert all(c["count"] is not None for c in cells), f"{path.name}: cells left unrun: {cells}"
        for kind, label in EXPLORE[path.stem]:
            before = output_signature(page)
            move_control(page, kind, label)
            wait_for_change(page, before, CONTROL_TIMEOUT_S)
            shown = page.evaluate("() => Array.from(document.querySelectorAll('.widget-output'))"
                                  ".map(o => o.innerText).join('\\n')")
            first = shown.find(TRACEBACK)  # the first traceback is the error; a later one may be a formatter's
            assert first < 0, f"{path.name}: moving {kind} {label!r} raised:\n{shown[first:first + 4000]}"
        page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")  # painted
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = page.locator(".jp-Cell", has=page.locator(".widget-output")).last
        if EXPLORE[path.stem]:
            shot.scroll_into_view_if_needed()
            shot.screenshot(path=str(ARTIFACTS / f"{path.stem}.png"))
        else:
            page.screenshot(path=str(ARTIFACTS / f"{path.stem}.png"))
    except Exception:
        with contextlib.suppress(Exception):  # the page as it failed, never masking the failure
            page.screenshot(path=str(ARTIFACTS.parent / f"{path.stem}-failed.png"))
        raise
    finally:
        shut_down_kernel(page)  # the next notebook gets the cores
        context.close()


URL = re.compile(r"http://127\.0\.0\.1:\d+/lab\?token=\w+")


@needs_browser
def test_make_lab_prints_a_url_that_serves_the_notebooks(lab, tmp_path):
    """`make lab`, as the README says, then a browser on the URL it printed lists the notebooks."""
    if not (ROOT / ".venv" / ".installed").exists():
        pytest.skip("no .venv set up by make here (make lab would build one)")
    proc = subprocess.Popen(["make", "-s", "lab"], cwd=ROOT, env={**os.environ, **jupyter_home(tmp_path)},
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        seen, url, deadline = [], None, time.monotonic() + 300
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            seen.append(line)
            url = next(iter(URL.findall(line)), None)
        assert url, "make lab printed no URL:\n" + "".join(seen[-30:])
        page = lab[2].new_page()  # the module's browser (Playwright's sync API runs one per thread)
        page.goto(url)
        page.locator(".jp-DirListing-item", has_text="00_quickstart.ipynb").wait_for(timeout=120_000)
        listed = page.locator(".jp-DirListing-itemName").all_inner_texts()
        page.close()
        assert {p.name for p in NOTEBOOKS} <= {t.strip() for t in listed}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
