"""JupyterLab served on the loopback address and driven by a headless Chromium, for the browser tests.

The browser is Debian's `chromium` (`.ci/run` installs it where it is missing); Playwright drives that
binary and downloads nothing. `browser_missing()` says why the browser tests cannot run, or None.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser")


def chromium_path() -> str | None:
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def browser_missing() -> str | None:
    """The reason the browser tests are skipped here, or None when they can run."""
    if chromium_path() is None:
        return "no Chromium on PATH (Debian: `apt-get install chromium`; .ci/run installs it)"
    for module, extra in (("playwright", "dev"), ("jupyterlab", "notebook")):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (`pip install -e \".[{extra}]\"`)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_url(url: str, timeout_s: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before serving {url}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        time.sleep(0.5)
    raise TimeoutError(f"nothing served {url} within {timeout_s:.0f} s")


# JupyterLab's settings for a test's server: no news fetched from the network, no update check
QUIET_SETTINGS = {"@jupyterlab/apputils-extension/notification.jupyterlab-settings":
                  '{"fetchNews": "false", "checkForUpdates": false}'}


def jupyter_home(folder: Path) -> dict:
    """The environment that keeps a Jupyter server's config, settings, workspaces and runtime files under
    folder/jupyter (a user's own never leak in), with QUIET_SETTINGS written there."""
    home = folder / "jupyter"
    for name, text in QUIET_SETTINGS.items():
        path = home / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return {"JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "JUPYTER_RUNTIME_DIR": str(home / "runtime")}


@contextlib.contextmanager
def jupyterlab(root: Path, env: dict, log: Path):
    """JupyterLab on 127.0.0.1 with a token, serving `root`, its Jupyter home in `log`'s folder
    (`jupyter_home`). Yields the base URL and the token."""
    port, token = free_port(), secrets.token_hex(16)
    env = {**env, **jupyter_home(log.parent)}
    args = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: the kernel's state, read by the test
            "--ServerApp.port_retries=0"]
    if hasattr(os, "getuid") and os.getuid() == 0:
        args.append("--allow-root")
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_url(f"{base}/api/status?token={token}", 120, proc)
            yield base, token
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def browser():
    """A headless Chromium (the system's binary) under Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        try:
            yield chrome
        finally:
            chrome.close()


# JupyterLab's own state, read in the page: the open notebook, its kernel and its code cells
_NOTEBOOK = "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
_KERNEL_IDLE = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle' && !w.sessionContext.isRestarting; }"""
_CELLS = """() => window.jupyterapp.shell.currentWidget.content.widgets
  .filter(c => c.model.type === 'code')
  .map(c => ({count: c.model.executionCount, pending: c.promptNode ? c.promptNode.textContent.includes('*') : false,
              errors: c.model.outputs.toJSON().filter(o => o.output_type === 'error')
                         .map(o => o.ename + ': ' + o.evalue)}))"""


def open_notebook(page, base: str, token: str, name: str, timeout_s: float = 120) -> None:
    """Open one notebook alone (`reset`: no tabs restored from an earlier page) and wait for its kernel,
    accepting the kernel JupyterLab proposes if it asks."""
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}")
    page.wait_for_function(_NOTEBOOK + f" && window.jupyterapp.shell.currentWidget.context.path === {name!r}",
                           timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(_KERNEL_IDLE):
        dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
        if dialog.count():
            dialog.locator("button.jp-mod-accept").click()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: no idle kernel within {timeout_s:.0f} s")
        time.sleep(0.5)


def shut_down_kernel(page) -> None:
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")


def run_all_cells(page, timeout_s: float) -> list[dict]:
    """Run → Run All Cells, through JupyterLab's menu, then wait until the kernel is idle with no cell
    pending. Returns each code cell's execution count and errors."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    deadline, quiet = time.monotonic() + timeout_s, 0
    while time.monotonic() < deadline:
        time.sleep(1)
        cells = page.evaluate(_CELLS)
        busy = not page.evaluate(_KERNEL_IDLE) or any(c["pending"] for c in cells)
        quiet = 0 if busy else quiet + 1
        if quiet >= 3 and any(c["count"] is not None for c in cells):
            return cells
    pending = [i for i, c in enumerate(cells) if c["pending"] or c["count"] is None]
    raise TimeoutError(f"the notebook's cells were still running after {timeout_s:.0f} s (code cells {pending} "
                       f"pending or unrun; kernel idle: {page.evaluate(_KERNEL_IDLE)})")


def output_signature(page) -> str:
    """What every widget output area shows: its text and the bytes of its images, hashed."""
    parts = page.evaluate("""() => Array.from(document.querySelectorAll('.widget-output')).map(o =>
        o.innerText + Array.from(o.querySelectorAll('img')).map(i => i.src).join('|'))""")
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def wait_for_change(page, before: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = output_signature(page)
        if now != before and page.evaluate(_KERNEL_IDLE):
            return now
    raise AssertionError(f"no widget output changed within {timeout_s:.0f} s")


def move_control(page, kind: str, label: str) -> None:
    """Move one control, found by its kind and its label, as a person would."""
    if kind == "button":
        page.locator("button.jupyter-button", has_text=label).first.click()
    elif kind == "slider":
        box = page.locator(".widget-slider", has=page.locator(".widget-label", has_text=label)).first
        box.locator(".noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")
    elif kind == "dropdown":
        box = page.locator(".widget-dropdown", has=page.locator(".widget-label", has_text=label)).first
        select = box.locator("select")
        options = select.locator("option").all_inner_texts()
        current = select.evaluate("s => s.options[s.selectedIndex].text")
        select.select_option(label=next(o for o in options if o != current))
    elif kind == "toggle":
        box = page.locator(".widget-toggle-buttons", has=page.locator(".widget-label", has_text=label)).first
        box.locator("button:not(.mod-active)").first.click()
    else:
        raise ValueError(f"unknown control kind {kind!r}")
