"""Driving JupyterLab 4 the way a learner does: menus, tabs, the editor, the Validate button.

One JupyterLab page serves most tests (loading JupyterLab costs seconds of CPU); notebooks
are opened in it with File → Open from Path…, each in its own tab, and every query below
is scoped to that notebook's panel. Selectors are JupyterLab's and nbgrader's own:

- a notebook tab ``.lm-TabBar-tab[data-id=<panel id>]``, its panel ``.jp-NotebookPanel``;
  cells ``.jp-Cell`` in notebook order (JupyterLab attaches them a few at a time, then keeps
  them all in the DOM: "contentVisibility" windowing), code prompts ``.jp-InputPrompt``
  ("[ ]:", "[*]:", "[3]:"), outputs ``.jp-OutputArea-output`` (errors and stderr have
  ``data-mime-type="application/vnd.jupyter.stderr"``), the kernel indicator
  ``.jp-Notebook-ExecutionIndicator[data-status]``;
- menu items carry their command: ``.lm-Menu-item[data-command="runmenu:run-all"]``;
- nbgrader's toolbar button ``.validate-button``; its result dialog ``#validation-message``
  (class ``validation-success`` or ``validation-failed``) inside ``.jp-Dialog``.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import nbformat

from tests.browser.conftest import ARTIFACTS, Lab

STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
NOTEBOOK_OPEN_S = 90
KERNEL_READY_S = 90
RAN = re.compile(r"\[\d+\]:")

# Prompts of the code cells of one notebook panel.
_PROMPTS_JS = """(id) => [...document.getElementById(id).querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
    .map(p => p.textContent.trim())"""
_PANELS_JS = (
    "() => [...document.querySelectorAll('#jp-main-dock-panel .jp-NotebookPanel')].map(p => p.id)"
)
_CURRENT_PANEL_JS = """() => {
    const p = document.querySelector('#jp-main-dock-panel .jp-NotebookPanel:not(.lm-mod-hidden)');
    return p ? p.id : null;
}"""
# Chinese drawn in the page's own font, compared with characters no font has (drawn as boxes).
_CJK_GLYPHS_JS = """(text) => {
    const c = document.createElement('canvas'); c.width = 160; c.height = 48;
    const g = c.getContext('2d');
    const family = getComputedStyle(document.querySelector('.jp-RenderedMarkdown') || document.body).fontFamily;
    const draw = t => { g.clearRect(0, 0, 160, 48); g.font = `28px ${family}`; g.fillText(t, 0, 36); return c.toDataURL(); };
    return draw(text) !== draw('\\u{10FFFD}'.repeat([...text].length));
}"""


def screenshot(page, name: str) -> Path:
    """Save a screenshot under test-artifacts/browser/, once the page has painted."""
    # Cells off screen are skipped by content-visibility until they scroll in: let them paint.
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.wait_for_timeout(300)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def renders_chinese(page, text: str = "学习") -> bool:
    """Whether the browser draws ``text`` with real glyphs rather than empty boxes (no CJK font)."""
    return page.evaluate(_CJK_GLYPHS_JS, text)


def scroll_into_view(locator) -> None:
    """Bring an element into view at once (Playwright's own waits for it to be "stable",
    which a notebook that is still rendering outputs may not be for a long while)."""
    locator.evaluate("e => e.scrollIntoView({block: 'start'})")


def scroll_to_bottom(locator) -> None:
    """Scroll every scrollable box inside ``locator`` (a dialog, say) to its end."""
    locator.evaluate(
        """e => [e, ...e.querySelectorAll('*')]
            .filter(x => x.scrollHeight > x.clientHeight + 1)
            .forEach(x => { x.scrollTop = x.scrollHeight; })"""
    )


def open_lab(lab: Lab, page, workspace: str) -> None:
    """Load JupyterLab in ``page``, in a fresh workspace (nothing restored)."""
    page.goto(lab.api(f"/lab/workspaces/{workspace}?reset"))
    page.wait_for_selector(".jp-LauncherCard", timeout=NOTEBOOK_OPEN_S * 1000)


def click_menu(page, menu_label: str, command: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu_label).first.click()
    page.locator(f'.lm-Menu-item[data-command="{command}"]').first.click()


def dismiss_dialogs(page) -> None:
    """Close whatever dialog a failed test left open (Cancel / Ok)."""
    for _ in range(3):
        dialog = page.locator(".jp-Dialog")
        if not dialog.count():
            return
        buttons = dialog.locator(".jp-mod-reject, .jp-mod-accept")
        (buttons.first.click() if buttons.count() else page.keyboard.press("Escape"))
        page.wait_for_timeout(300)


class Notebook:
    """One notebook, open in its own tab of a JupyterLab page."""

    def __init__(self, lab: Lab, page, path: str, panel_id: str):
        self.lab, self.page, self.path, self.id = lab, page, path, panel_id
        self.panel = page.locator(f'[id="{panel_id}"]')
        # Count code cells on the file: the DOM fills in a few at a time.
        nb = nbformat.read(lab.root / path, as_version=4)
        self.code_cells = sum(c.cell_type == "code" for c in nb.cells)

    @classmethod
    def open(
        cls,
        lab: Lab,
        page,
        path: str,
        wait: bool = True,
        wait_kernel: bool = True,
        file_menu: str = "File",
    ) -> Notebook:
        """File → Open from Path…; with ``wait=False`` return at once and poll :meth:`ready`."""
        before = set(page.evaluate(_PANELS_JS))
        click_menu(page, file_menu, "filebrowser:open-path")
        page.locator(".jp-Dialog input").fill(path)
        page.keyboard.press("Enter")
        deadline = time.monotonic() + NOTEBOOK_OPEN_S
        while not (new := set(page.evaluate(_PANELS_JS)) - before):
            if time.monotonic() > deadline:
                raise AssertionError(f"{path}: no new notebook tab after {NOTEBOOK_OPEN_S} s")
            time.sleep(0.2)
        [panel_id] = new
        nb = cls(lab, page, path, panel_id)
        nb.activate()
        if wait:
            deadline = time.monotonic() + NOTEBOOK_OPEN_S
            while not nb.rendered():
                if time.monotonic() > deadline:
                    raise AssertionError(f"{path}: not rendered in {NOTEBOOK_OPEN_S} s")
                time.sleep(0.2)
            if wait_kernel:
                nb.wait_kernel_ready()
        return nb

    @classmethod
    def current(cls, lab: Lab, page, path: str) -> Notebook:
        """The notebook in the front tab (opened some other way: a link, say) as ``path``."""
        return cls(lab, page, path, page.evaluate(_CURRENT_PANEL_JS))

    def activate(self) -> None:
        """Bring this notebook's tab to the front (menus act on the current notebook)."""
        tab = self.page.locator(f'.lm-TabBar-tab[data-id="{self.id}"]')
        if "lm-mod-current" not in (tab.get_attribute("class") or ""):
            tab.click()
            self.page.wait_for_function(f"() => ({_CURRENT_PANEL_JS})() === {json.dumps(self.id)}")

    def close(self) -> None:
        """Close the tab (discarding changes) and shut its kernel down."""
        tab = self.page.locator(f'.lm-TabBar-tab[data-id="{self.id}"]')
        tab.locator(".lm-TabBar-tabCloseIcon").click()
        discard = self.page.locator(".jp-Dialog button", has_text="Discard")
        try:
            discard.wait_for(timeout=2000)
            discard.click()
        except Exception:  # not modified: no dialog
            pass
        self.page.wait_for_selector(f'.lm-TabBar-tab[data-id="{self.id}"]', state="detached")
        with urllib.request.urlopen(self.lab.api("/api/sessions"), timeout=10) as r:
            sessions = [s for s in json.load(r) if s.get("path") == self.path]
        for s in sessions:
            request = urllib.request.Request(
                self.lab.api(f"/api/sessions/{s['id']}"), method="DELETE"
            )
            urllib.request.urlopen(request, timeout=30).close()

    # -- state ------------------------------------------------------------------------------
    def prompts(self) -> list[str]:
        return self.page.evaluate(_PROMPTS_JS, self.id)

    def rendered(self) -> bool:
        """Its "# title" is rendered and every code cell is in the page."""
        title = self.panel.locator(".jp-RenderedMarkdown h1")
        return title.count() > 0 and len(self.prompts()) == self.code_cells

    def kernel_state(self) -> str | None:
        """The server's view of this notebook's kernel ("starting", "idle", "busy"...)."""
        with urllib.request.urlopen(self.lab.api("/api/sessions"), timeout=10) as r:
            sessions = json.load(r)
        for s in sessions:
            if s.get("path") == self.path and s.get("kernel"):
                return s["kernel"].get("execution_state")
        return None

    def kernel_ready(self) -> bool:
        """The server has an idle kernel for this notebook and its toolbar shows it idle."""
        indicator = self.panel.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')
        return self.kernel_state() == "idle" and indicator.count() > 0

    def ready(self) -> bool:
        """Rendered, with its kernel ready (for notebooks opened with ``wait=False``)."""
        return self.rendered() and self.kernel_ready()

    def wait_kernel_ready(self, timeout: float = KERNEL_READY_S) -> None:
        deadline = time.monotonic() + timeout
        while not self.kernel_ready():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.path}: the kernel did not become ready in {timeout:.0f} s"
                )
            time.sleep(0.3)

    def markdown_text(self) -> str:
        return "\n".join(self.panel.locator(".jp-RenderedMarkdown").all_text_contents())

    def errors(self) -> list[str]:
        """The text of every error (or stderr) output of this notebook."""
        return [e.text_content() or "" for e in self.panel.locator(STDERR).all()]

    # -- cells ------------------------------------------------------------------------------
    def cell(self, index: int):
        return self.panel.locator(".jp-Cell").nth(index)

    def output_text(self, index: int) -> str:
        return self.cell(index).locator(".jp-OutputArea").text_content() or ""

    def scroll_to_cell(self, index: int) -> None:
        scroll_into_view(self.cell(index))

    def scroll_to_last_code_cell(self) -> None:
        scroll_into_view(self.panel.locator(".jp-CodeCell").last)

    def replace_source(self, index: int, source: str) -> None:
        """Click into cell ``index``'s editor, select everything and type ``source``."""
        self.activate()
        editor = self.cell(index).locator(".cm-content")
        scroll_into_view(editor)
        editor.click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(source)
        typed = editor.inner_text().strip()
        assert typed == source.strip(), f"typed {source!r}, the editor shows {typed!r}"

    def _code_index(self, index: int) -> int:
        """Position of cell ``index`` among the code cells."""
        return self.panel.locator(".jp-Cell").evaluate_all(
            "(cells, i) => cells.slice(0, i).filter(c => c.classList.contains('jp-CodeCell')).length",
            index,
        )

    def run_cells(self, index: int, count: int = 1, timeout: float = 90) -> None:
        """Click into cell ``index`` and press Shift+Enter ``count`` times (it and the cells
        after it run, as a learner steps through them); wait until they all have run."""
        self.activate()
        before = self.prompts()
        self.cell(index).locator(".cm-content").click()
        for _ in range(count):
            self.page.keyboard.press("Shift+Enter")
        at = self._code_index(index)
        deadline = time.monotonic() + timeout
        while True:
            now, old = self.prompts()[at : at + count], before[at : at + count]
            if all(RAN.fullmatch(p) and p != o for p, o in zip(now, old, strict=True)):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.path}: cells from {index} did not run: {now}")
            time.sleep(0.3)

    # -- Run All ----------------------------------------------------------------------------
    def start_run_all(self) -> None:
        self.activate()
        click_menu(self.page, "Run", "runmenu:run-all")

    def run_all_status(self) -> tuple[bool, str]:
        """(finished, description) of a Run All in progress."""
        prompts = self.prompts()
        done = sum(bool(RAN.fullmatch(p)) for p in prompts)
        if done == len(prompts) == self.code_cells:
            return True, f"{done} code cells ran"
        running = any(p == "[*]:" for p in prompts)
        if not running and self.kernel_state() == "idle" and self.panel.locator(STDERR).count():
            # Run All stops at an error (test cells are tagged raises-exception).
            time.sleep(1.0)
            if self.prompts() == prompts:
                return True, f"stopped after an error: {done} of {self.code_cells} code cells ran"
        return False, f"{done} of {self.code_cells} code cells ran"

    # -- nbgrader ---------------------------------------------------------------------------
    def validate(self, timeout: float = 180):
        """Press nbgrader's Validate; return the result dialog (a locator), still open."""
        self.activate()
        self.panel.locator(".jp-Toolbar .validate-button").click()
        self.page.wait_for_selector("#validation-message", timeout=timeout * 1000)
        return self.page.locator(".jp-Dialog", has=self.page.locator("#validation-message"))

    def close_dialog(self) -> None:
        self.page.locator(".jp-Dialog .jp-mod-accept").click()
        self.page.wait_for_selector(".jp-Dialog", state="detached")
