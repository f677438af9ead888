"""The learner's JupyterLab, tested in Chromium: start page, lessons, Validate, Chinese.

Screenshots of every step go to test-artifacts/browser/ (see the README of the tests in
tests/browser/conftest.py). All tests share one JupyterLab: one xdist group.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request

import nbformat
import pytest

from autograder.config import COURSE_ID, RELEASE_DIR, ROOT, SOURCE_DIR
from autograder.labsetup import NEWS_PLUGIN
from autograder.release import _titles, lessons
from autograder.samples import grade_id, solved_source
from tests.browser.jlab import KERNEL_READY_S, STDERR, Notebook, screenshot, scroll_to_bottom

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

LESSONS = lessons()
RELEASED = [
    lesson for lesson in LESSONS if (ROOT / RELEASE_DIR / lesson / f"{lesson}.ipynb").is_file()
]
MODEL_LESSON = "03_differentiation"
RUN_ALL_S = 240  # one lesson, while others run beside it on two cores
PARALLEL = 3  # lessons running at once
RIGHT_DQ_DA = "def dq_da(a):\n    return 9 * a**2\n"
WRONG_DQ_DB = "def dq_db(b):\n    return -2 * b**2\n"
HINT_EN, HINT_ZH = "−2b, not −2b²", "而不是 −2b²"


def markdown_text(page) -> str:
    return "\n".join(page.locator(".jp-NotebookPanel .jp-RenderedMarkdown").all_text_contents())


def no_news_toast(page) -> None:
    toasts = " ".join(page.locator(".jp-toast-message").all_text_contents())
    assert "news" not in toasts.lower(), f"JupyterLab asked about news: {toasts}"


def test_start_page_explains_the_course_and_links_every_lesson(lab, context):
    nb = Notebook.open(lab, context, "START_HERE.ipynb")
    text = markdown_text(nb.page)
    assert "Learning torch.autograd" in text and "学习 torch.autograd" in text
    assert "Validate" in text and "COURSE_LANG" in text
    titles = [_titles(ROOT / SOURCE_DIR / lesson / f"{lesson}.ipynb") for lesson in RELEASED]
    for en, zh in titles:
        assert en in text and zh in text, f"the start page does not link {en} / {zh}"
    positions = [text.index(en) for en, _ in titles]
    assert positions == sorted(positions), "lessons are listed in course order"
    screenshot(nb.page, "01-start-page")
    no_news_toast(nb.page)
    # The defaults JupyterLab serves (schema defaults with our overrides), unless the user chose.
    news = json.load(urllib.request.urlopen(lab.api(f"/lab/api/settings/{NEWS_PLUGIN}")))
    defaults = {k: v.get("default") for k, v in news["schema"]["properties"].items()}
    assert {**defaults, **news["settings"]}["fetchNews"] == "false"
    assert {**defaults, **news["settings"]}["checkForUpdates"] is False

    # The first link opens its lesson.
    nb.page.locator(".jp-RenderedMarkdown a", has_text=titles[0][0]).first.click()
    nb.page.wait_for_selector(f'.lm-TabBar-tab:has-text("{RELEASED[0]}.ipynb")')
    nb.page.wait_for_function("() => document.querySelectorAll('.jp-NotebookPanel').length == 2")


def test_every_solution_runs_without_an_error(lab, context):
    """Run → Run All Cells in each lesson's solution, a few lessons at a time."""
    assert LESSONS, "no lesson in solutions/"
    # Open every lesson at once (pages load and kernels start meanwhile), run them in turn.
    waiting = {
        lesson: Notebook.open(lab, context, f"solutions/{lesson}/{lesson}.ipynb", wait_kernel=False)
        for lesson in LESSONS
    }
    opened, running, results = time.monotonic(), {}, {}
    while waiting or running:
        for lesson, nb in list(waiting.items()):
            if len(running) >= PARALLEL:
                break
            if nb.kernel_ready():
                nb.start_run_all()
                running[lesson] = (waiting.pop(lesson), time.monotonic())
            elif time.monotonic() - opened > KERNEL_READY_S:
                pytest.fail(f"{lesson}: the kernel did not start in {KERNEL_READY_S} s")
        for lesson, (nb, started) in list(running.items()):
            finished, status = nb.run_all_status()
            took = time.monotonic() - started
            if finished or took > RUN_ALL_S:
                errors = nb.errors()
                if errors:
                    nb.page.locator(STDERR).first.scroll_into_view_if_needed()
                else:
                    nb.scroll_to_last_code_cell()
                screenshot(nb.page, f"02-solution-{lesson}")
                results[lesson] = (finished, status, errors, took)
                nb.close()
                del running[lesson]
        time.sleep(0.3)
    summary = "\n".join(
        f"{lesson}: {status} in {took:.0f} s" for lesson, (_, status, _, took) in results.items()
    )
    print(summary)
    problems = [
        f"{lesson}: {status}" + "".join(f"\n  error output: {e.strip()[-800:]}" for e in errors)
        for lesson, (finished, status, errors, took) in results.items()
        if not finished or errors
    ]
    assert not problems, "\n".join(problems)


def _cells(lesson: str):
    released = nbformat.read(ROOT / RELEASE_DIR / lesson / f"{lesson}.ipynb", as_version=4)
    solution = nbformat.read(ROOT / SOURCE_DIR / lesson / f"{lesson}.ipynb", as_version=4)
    answers = {
        grade_id(c): solved_source(c.source)
        for c in solution.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    where = {grade_id(c): i for i, c in enumerate(released.cells) if grade_id(c)}
    return released, answers, where


def _test_cell_after(released, index: int) -> int:
    """The graded test cell that checks the answer in cell ``index``."""
    return next(
        i
        for i in range(index + 1, len(released.cells))
        if released.cells[i].get("metadata", {}).get("nbgrader", {}).get("grade")
    )


@pytest.mark.skipif(MODEL_LESSON not in RELEASED, reason=f"{MODEL_LESSON} is not released")
def test_learner_answers_runs_the_tests_and_validates(lab, context):
    released, answers, where = _cells(MODEL_LESSON)
    answers["dq_da"] = RIGHT_DQ_DA
    nb = Notebook.open(lab, context, f"{MODEL_LESSON}/{MODEL_LESSON}.ipynb")

    # Right answers everywhere (dq_da typed as a learner would), then Run All Cells.
    for gid, source in answers.items():
        nb.replace_source(where[gid], source)
    nb.start_run_all()
    status = nb.wait_run_all(RUN_ALL_S)
    assert not nb.errors(), f"{status}: {nb.errors()}"
    da_test = _test_cell_after(released, where["dq_da"])
    assert "✓" in nb.output_text(da_test), nb.output_text(da_test)
    nb.scroll_to_cell(da_test)
    screenshot(nb.page, "03-learner-right-answer")

    dialog = nb.validate()
    message = dialog.locator("#validation-message")
    assert "Success! Your notebook passes all the tests." in message.text_content()
    assert "validation-success" in message.get_attribute("class")
    screenshot(nb.page, "04-validate-success")
    nb.close_dialog()

    # A wrong ∂Q/∂b: its test cell and Validate both say why, in both languages.
    db = where["dq_db"]
    nb.replace_source(db, WRONG_DQ_DB)
    nb.run_cell_and_next(db)
    db_test = _test_cell_after(released, db)
    assert db_test == db + 1
    feedback = nb.output_text(db_test)
    assert "✗" in feedback and HINT_EN in feedback and HINT_ZH in feedback, feedback
    nb.scroll_to_cell(db_test)
    screenshot(nb.page, "05-learner-wrong-answer-hint")

    dialog = nb.validate()
    message = dialog.locator("#validation-message")
    text = message.text_content()
    assert "validation-failed" in message.get_attribute("class")
    assert 'check("differentiation.grad_b", dq_db)' in text
    assert HINT_EN in text and HINT_ZH in text, text[-2000:]
    assert "grad_a" not in text, "only the wrong answer fails"
    # Scroll the traceback to the hint, where a learner reads it.
    scroll_to_bottom(dialog)
    screenshot(nb.page, "06-validate-failure-hint")
    nb.close_dialog()


def test_assignment_list_finds_the_exchange(lab, context):
    """nbgrader's learner panel works out of the box: no "exchange directory does not exist"."""
    courses = json.load(urllib.request.urlopen(lab.api("/courses")))
    assert courses == {"success": True, "value": []}, courses
    listed = json.load(urllib.request.urlopen(lab.api(f"/assignments?course_id={COURSE_ID}")))
    assert listed["success"], listed

    page = context.new_page()
    page.goto(lab.api("/lab/workspaces/assignments?reset"))
    page.wait_for_selector(".jp-LauncherCard", timeout=90_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
    page.locator('.lm-Menu-item[data-command="nbgrader:open-assignment-list"]').click()
    page.wait_for_selector("text=Released assignments")
    page.wait_for_selector("text=There are no assignments to fetch.")
    assert "does not exist" not in page.content()
    no_news_toast(page)
    screenshot(page, "07-assignment-list")
    assert "exchange directory does not exist" not in lab.log.read_text()


@pytest.mark.skipif(MODEL_LESSON not in RELEASED, reason=f"{MODEL_LESSON} is not released")
def test_chinese_edition_with_chinese_interface(lab, context):
    """`course edition --lang zh`, opened with JupyterLab switched to 中文 (Settings → Language)."""
    start = Notebook.open(lab, context, "editions/zh/START_HERE.ipynb", wait_kernel=False)
    text = markdown_text(start.page)
    assert "学习 torch.autograd" in text and "Welcome" not in text
    user_setting = lab.settings / "@jupyterlab" / "translation-extension"
    try:
        page = start.page
        page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
        page.locator('.lm-Menu-item[data-type="submenu"]', has_text="Language").first.click()
        page.locator(".lm-Menu-item", has_text="中文").first.click()
        page.locator(".jp-Dialog .jp-mod-accept").click()  # "Change and reload"
        page.wait_for_selector(".lm-MenuBar-itemLabel:text-is('文件')", timeout=90_000)

        path = f"editions/zh/{MODEL_LESSON}/{MODEL_LESSON}.ipynb"
        lesson = Notebook.open(lab, context, path, wait_kernel=False)
        text = markdown_text(lesson.page)
        assert re.search(r"第 3 课", text) and "You will learn" not in text, text[:500]
        assert "文件" in lesson.page.locator(".lm-MenuBar").text_content()
        screenshot(lesson.page, "08-zh-edition-chinese-interface")
    finally:
        shutil.rmtree(user_setting, ignore_errors=True)  # back to English for other tests
