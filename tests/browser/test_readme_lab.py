"""`make lab`, as the README shows it, in each language: the start page opens in Chromium.

The command runs exactly as written, from the checkout, with only a free port in ``PORT`` (a
variable the Makefile takes). It serves the learner's workspace (work/<lang>/), never
notebooks/. The page is opened at the URL of the banner it prints, as a newcomer would open
it; the server's own log stays out of the way (no "Kernel is running over TCP" warnings).
Ctrl-C twice stops it, and no process it started may be left. Opening a lesson and pressing
Validate must leave no "unsaved changes" mark and no change on disk, and notebooks/ must be
as it was (``git status --porcelain notebooks/`` and every byte).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from autograder.authoring.edition import workspace_dir
from autograder.authoring.release import _titles, lessons
from autograder.config import ROOT, SOURCE_DIR
from tests import readme_commands as rc
from tests.browser.conftest import ARTIFACTS, VIEWPORT, Lab, _free_port, fresh_artifacts
from tests.browser.jlab import NOTEBOOK_OPEN_S, Notebook, screenshot
from tests.test_readme import editions_lock
from tests.test_workspace import release_state

pytestmark = [pytest.mark.browser, pytest.mark.slow]

START_S = 180  # set-up check, the workspace, the server: on two busy cores
BANNER_LINES = 16  # what make lab may print before its link (a font notice included)
STOP_S = 30
CJK = re.compile(r"[\u4e00-\u9fff]")
LESSON = "02_derivatives"
DIRTY_TABS_JS = (
    "() => [...document.querySelectorAll('.lm-TabBar-tab.jp-mod-dirty')].map(t => t.textContent)"
)


def _tagged(tag: str) -> list[int]:
    """Live processes whose environment carries ``tag`` (everything the command started)."""
    found = []
    needle = f"COURSE_README_RUN={tag}".encode()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if needle in (proc / "environ").read_bytes():
                status = (proc / "status").read_text()
                if "\nState:\tZ" not in status:
                    found.append(int(proc.name))
        except OSError:
            continue
    return found


class MakeLab:
    """The README's `make lab` command, started as a newcomer starts it."""

    def __init__(self, command: str, log: Path, workspaces: Path):
        self.command, self.log = rc.command(command), log
        self.port, self.tag = _free_port(), uuid.uuid4().hex
        env = {k: v for k, v in os.environ.items() if k != "COURSE_LANG"}
        # A newcomer has no saved JupyterLab workspace (tabs left open by an earlier run).
        env.update(
            PORT=str(self.port),
            COURSE_README_RUN=self.tag,
            JUPYTERLAB_WORKSPACES_DIR=str(workspaces),
        )
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                self.command,
                shell=True,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def url(self) -> str:
        """The URL the server prints for the learner to open."""
        pattern = re.compile(rf"http://(?:127\.0\.0\.1|localhost):{self.port}/\S*token=\w+")
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            found = pattern.search(self.log.read_text(errors="replace"))
            if found:
                return found.group(0)
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        pytest.fail(
            f"`{self.command}` printed no URL (exit {self.proc.poll()}):\n"
            + self.log.read_text(errors="replace")[-3000:],
            pytrace=False,
        )

    def ctrl_c_twice(self) -> int | None:
        """What a terminal does on Ctrl-C: SIGINT to the whole foreground process group."""
        for _ in range(2):
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                break
            time.sleep(1.0)
        try:
            return self.proc.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            return None

    def leftovers(self) -> list[int]:
        deadline = time.monotonic() + 5
        while (left := _tagged(self.tag)) and time.monotonic() < deadline:
            time.sleep(0.2)
        return left

    def kill(self) -> None:
        for pid in _tagged(self.tag):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _lesson_titles() -> list[tuple[str, str]]:
    # a title's code span (`.grad`) renders without its backticks
    return [
        tuple(t.replace("`", "") for t in _titles(ROOT / SOURCE_DIR / lesson / f"{lesson}.ipynb"))
        for lesson in lessons()
    ]


def _assert_language(text: str, lang: str) -> None:
    for en, zh in _lesson_titles():
        if lang in ("en", "both"):
            assert en in text, f"the start page does not list {en!r}"
        if lang in ("zh", "both"):
            assert zh in text, f"the start page does not list {zh!r}"
        if lang == "zh":
            assert en not in text, f"the Chinese start page shows the English title {en!r}"
    if lang == "en":
        assert not CJK.search(text), "the English start page shows Chinese"


def _unchanged_after_open_and_validate(lab: Lab, page) -> None:
    path = f"{LESSON}/{LESSON}.ipynb"
    file = lab.root / path
    before = file.read_bytes()
    try:
        notebook = Notebook.open(lab, page, path)
        assert not page.evaluate(DIRTY_TABS_JS), "opening a lesson marked it as changed"
        dialog = notebook.validate()
        assert dialog.locator("#validation-message").count() == 1
        notebook.close_dialog()
        page.wait_for_timeout(1000)  # Validate saves first: let a stray save land
        assert not page.evaluate(DIRTY_TABS_JS), "Validate left the lesson marked as changed"
        assert file.read_bytes() == before, "opening the lesson and pressing Validate changed it"
        notebook.close()
    finally:
        if file.read_bytes() != before:
            file.write_bytes(before)


def _banner_first(log: Path, url: str) -> None:
    """The link comes early, in the course's bilingual banner, with no kernel warnings."""
    text = log.read_text(errors="replace")
    before = text[: text.index(url)]
    assert "The course is ready" in before and "课程已就绪" in before, text[-3000:]
    assert len(before.splitlines()) <= BANNER_LINES, f"{len(before.splitlines())} lines:\n{before}"
    assert "Open it · 打开方式" not in text, "make lab told the learner to run another command"
    assert "without encryption" not in text, "kernels' TCP warnings reach the terminal"


@pytest.mark.parametrize(
    ("command", "lang"),
    [("make lab", "both"), ("COURSE_LANG=en make lab", "en"), ("COURSE_LANG=zh make lab", "zh")],
)
def test_make_lab_opens_the_start_page(browser, command, lang, tmp_path):
    fresh_artifacts()
    log = ARTIFACTS / f"readme-make-lab-{lang}.log"
    root = workspace_dir(lang)
    # The workspace is the checkout's own: one test at a time uses it (tests/test_workspace.py).
    with editions_lock():
        released = release_state()
        _run_make_lab(browser, command, lang, log, root, tmp_path)
        assert release_state() == released, "make lab changed notebooks/ (git status, bytes)"


def _run_make_lab(browser, command, lang, log, root, tmp_path) -> None:
    lab_cmd = MakeLab(command, log, tmp_path / "workspaces")
    try:
        url = lab_cmd.url()
    except BaseException:
        lab_cmd.kill()
        raise
    token = url.split("token=")[1]
    lab = Lab(url.split("/lab")[0], token, root, ROOT, log)
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    try:
        assert "/lab/tree/START_HERE.ipynb" in url, f"the printed URL is not the start page: {url}"
        assert (root / "START_HERE.ipynb").is_file(), f"make lab made no workspace in {root}"
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector(
            ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedMarkdown h1",
            timeout=NOTEBOOK_OPEN_S * 1000,
        )
        current = page.locator(".lm-TabBar-tab.lm-mod-current.jp-mod-current").all_text_contents()
        assert any("START_HERE.ipynb" in t for t in current), f"front tab: {current}"
        start = Notebook.current(lab, page, "START_HERE.ipynb")
        _assert_language(start.markdown_text(), lang)
        if lang == "zh":
            menus = " ".join(page.locator(".lm-MenuBar-itemLabel").all_text_contents())
            assert "文件" in menus, f"JupyterLab's menus are not in Chinese: {menus}"
        start.wait_kernel_ready()
        assert not page.evaluate(DIRTY_TABS_JS), "the start page is marked as changed on opening"
        screenshot(page, f"readme-make-lab-{lang}")
        if lang == "both":
            _unchanged_after_open_and_validate(lab, page)
        _banner_first(log, url)
        context.close()
        code = lab_cmd.ctrl_c_twice()
        assert code is not None, f"`{command}` did not stop on Ctrl-C twice within {STOP_S} s"
        left = lab_cmd.leftovers()
        assert not left, f"processes left after Ctrl-C: {left}"
    finally:
        context.close()
        if lab_cmd.proc.poll() is None:
            os.killpg(lab_cmd.proc.pid, signal.SIGKILL)
        lab_cmd.kill()
