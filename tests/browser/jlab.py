"""Driving JupyterLab 4 the way a learner does: menus, the editor, the Validate button.

Selectors are JupyterLab's and nbgrader's own, found in their DOM:
- a notebook: ``.jp-NotebookPanel``, its cells ``.jp-Cell`` (in notebook order; JupyterLab's
  default "contentVisibility" windowing keeps every cell in the DOM), code prompts
  ``.jp-InputPrompt`` ("[ ]:", "[*]:", "[3]:"), outputs ``.jp-OutputArea-output``
  (errors and stderr have ``data-mime-type="application/vnd.jupyter.stderr"``);
- menu items carry their command: ``.lm-Menu-item[data-command="runmenu:run-all"]``;
- nbgrader's toolbar button ``.validate-button``; its result dialog ``#validation-message``
  (class ``validation-success`` or ``validation-failed``) inside ``.jp-Dialog``.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import urllib.request
from pathlib import Path

from tests.browser.conftest import ARTIFACTS, Lab

STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
NOTEBOOK_OPEN_S = 90
KERNEL_READY_S = 90
_workspaces = itertools.count()

# Prompts of every code cell of the notebook on the page.
_PROMPTS_JS = """() => [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')]
    .map(p => p.textContent.trim())"""


def screenshot(page, name: str) -> Path:
    """Save a screenshot under test-artifacts/browser/, once the page has painted."""
    # Cells off screen are skipped by content-visibility until they scroll in: let them paint.
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.wait_for_timeout(300)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def scroll_to_bottom(locator) -> None:
    """Scroll every scrollable box inside ``locator`` (a dialog, say) to its end."""
    locator.evaluate(
        """e => [e, ...e.querySelectorAll('*')]
            .filter(x => x.scrollHeight > x.clientHeight + 1)
            .forEach(x => { x.scrollTop = x.scrollHeight; })"""
    )


class Notebook:
    """One notebook opened alone in its own JupyterLab workspace, in its own page."""

    def __init__(self, lab: Lab, page, path: str):
        self.lab, self.page, self.path = lab, page, path

    @classmethod
    def open(cls, lab: Lab, context, path: str, wait_kernel: bool = True) -> Notebook:
        page = context.new_page()
        # A fresh workspace per page: nothing restored, no clash between pages.
        page.goto(lab.api(f"/lab/workspaces/test-{next(_workspaces)}/tree/{path}?reset"))
        # Every course notebook starts with a "# title": wait until it is rendered.
        page.wait_for_selector(
            ".jp-NotebookPanel .jp-RenderedMarkdown h1", timeout=NOTEBOOK_OPEN_S * 1000
        )
        nb = cls(lab, page, path)
        if wait_kernel:
            nb.wait_kernel_ready()
        return nb

    # -- kernel -----------------------------------------------------------------------------
    def kernel_state(self) -> str | None:
        """The server's view of this notebook's kernel ("starting", "idle", "busy"...)."""
        with urllib.request.urlopen(self.lab.api("/api/sessions"), timeout=10) as r:
            sessions = json.load(r)
        for s in sessions:
            if s.get("path") == self.path and s.get("kernel"):
                return s["kernel"].get("execution_state")
        return None

    def close(self) -> None:
        """Close the page and shut its kernel down (kernels with torch are big)."""
        self.page.close()
        with urllib.request.urlopen(self.lab.api("/api/sessions"), timeout=10) as r:
            sessions = [s for s in json.load(r) if s.get("path") == self.path]
        for s in sessions:
            request = urllib.request.Request(
                self.lab.api(f"/api/sessions/{s['id']}"), method="DELETE"
            )
            urllib.request.urlopen(request, timeout=30).close()

    def kernel_ready(self) -> bool:
        """The server has an idle kernel for this notebook and the page shows it idle."""
        indicator = self.page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')
        return self.kernel_state() == "idle" and indicator.count() > 0

    def wait_kernel_ready(self, timeout: float = KERNEL_READY_S) -> None:
        deadline = time.monotonic() + timeout
        while not self.kernel_ready():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.path}: the kernel did not become ready in {timeout:.0f} s"
                )
            time.sleep(0.3)

    # -- cells ------------------------------------------------------------------------------
    def cell(self, index: int):
        return self.page.locator(".jp-NotebookPanel .jp-Cell").nth(index)

    def prompts(self) -> list[str]:
        return self.page.evaluate(_PROMPTS_JS)

    def replace_source(self, index: int, source: str) -> None:
        """Click into cell ``index``'s editor, select everything and type ``source``."""
        editor = self.cell(index).locator(".cm-content")
        editor.scroll_into_view_if_needed()
        editor.click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(source)
        typed = editor.inner_text().strip()
        assert typed == source.strip(), f"typed {source!r}, the editor shows {typed!r}"

    def run_cell_and_next(self, index: int, timeout: float = 60) -> None:
        """Shift+Enter on cell ``index`` and then on the cell after it; wait for both."""
        before = self.prompts()
        self.cell(index).locator(".cm-content").click()
        self.page.keyboard.press("Shift+Enter")
        self.page.keyboard.press("Shift+Enter")
        code_index = self._code_index(index)
        deadline = time.monotonic() + timeout
        while True:
            now = self.prompts()
            pair, old = now[code_index : code_index + 2], before[code_index : code_index + 2]
            if all(re.fullmatch(r"\[\d+\]:", p) and p != o for p, o in zip(pair, old, strict=True)):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.path}: cells {index}, {index + 1} did not run: {pair}")
            time.sleep(0.3)

    def _code_index(self, index: int) -> int:
        """Position of cell ``index`` among the code cells."""
        return self.page.evaluate(
            """(i) => { const cells = [...document.querySelectorAll('.jp-NotebookPanel .jp-Cell')];
                return cells.slice(0, i).filter(c => c.classList.contains('jp-CodeCell')).length; }""",
            index,
        )

    def output_text(self, index: int) -> str:
        return self.cell(index).locator(".jp-OutputArea").text_content() or ""

    # -- menus and toolbar ------------------------------------------------------------------
    def menu(self, menu_label: str, command: str) -> None:
        self.page.locator(".lm-MenuBar-itemLabel", has_text=menu_label).first.click()
        self.page.locator(f'.lm-Menu-item[data-command="{command}"]').first.click()

    def start_run_all(self) -> None:
        self.menu("Run", "runmenu:run-all")

    def run_all_status(self) -> tuple[bool, str]:
        """(finished, description) of a Run All in progress."""
        prompts = self.prompts()
        done = sum(bool(re.fullmatch(r"\[\d+\]:", p)) for p in prompts)
        if prompts and done == len(prompts):
            return True, f"{done} code cells ran"
        running = any(p == "[*]:" for p in prompts)
        if not running and self.kernel_state() == "idle" and self.page.locator(STDERR).count():
            # Run All stops at an error (test cells are tagged raises-exception).
            time.sleep(1.0)
            if self.prompts() == prompts:
                return True, f"stopped after an error: {done} of {len(prompts)} code cells ran"
        return False, f"{done} of {len(prompts)} code cells ran"

    def wait_run_all(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            finished, status = self.run_all_status()
            if finished:
                return status
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.path}: Run All did not finish in {timeout:.0f} s ({status})"
                )
            time.sleep(0.5)

    def errors(self) -> list[str]:
        """The text of every error (or stderr) output on the page."""
        return [e.text_content() or "" for e in self.page.locator(STDERR).all()]

    def save(self) -> None:
        self.page.locator('.jp-NotebookPanel-toolbar [data-command="docmanager:save"]').click()
        self.page.wait_for_function(
            "() => !document.querySelector('.jp-NotebookPanel .jp-mod-dirty, .lm-TabBar-tab.jp-mod-dirty')",
            timeout=30_000,
        )

    def validate(self, timeout: float = 180):
        """Press nbgrader's Validate; return the result dialog (a locator), still open."""
        self.page.locator(".jp-NotebookPanel-toolbar .validate-button").click()
        self.page.wait_for_selector("#validation-message", timeout=timeout * 1000)
        return self.page.locator(".jp-Dialog", has=self.page.locator("#validation-message"))

    def close_dialog(self) -> None:
        self.page.locator(".jp-Dialog .jp-mod-accept").click()
        self.page.wait_for_selector(".jp-Dialog", state="detached")

    def scroll_to_cell(self, index: int) -> None:
        self.cell(index).scroll_into_view_if_needed()

    def scroll_to_last_code_cell(self) -> None:
        self.page.locator(".jp-NotebookPanel .jp-CodeCell").last.scroll_into_view_if_needed()
