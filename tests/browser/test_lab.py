"""The learner's JupyterLab, tested in Chromium: start page, lessons, Validate, Chinese.

Screenshots of every step go to test-artifacts/browser/. All tests share one JupyterLab
server (tests/browser/conftest.py), so they form one xdist group.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request

import nbformat
import pytest

from autograder.authoring.release import _titles, lessons
from autograder.authoring.samples import grade_id, solved_source
from autograder.config import COURSE_ID, RELEASE_DIR, ROOT, SOURCE_DIR
from autograder.lab.setup import NEWS_PLUGIN
from course_utils.exercises import get
from tests.browser.jlab import (
    KERNEL_READY_S,
    NOTEBOOK_OPEN_S,
    STDERR,
    Notebook,
    click_menu,
    open_lab,
    renders_chinese,
    screenshot,
    scroll_into_view,
    scroll_to_bottom,
)
from tests.derivatives import KEPT_POWER, KEPT_POWER_DQ_DB, RIGHT_DQ_DA, my_q_cell

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

LESSONS = lessons()
RELEASED = [
    lesson for lesson in LESSONS if (ROOT / RELEASE_DIR / lesson / f"{lesson}.ipynb").is_file()
]
MODEL_LESSON = "02_derivatives"
RUN_ALL_S = 240  # one lesson, while others run beside it on two cores
PARALLEL = 3  # lessons running at once
OPEN_S = NOTEBOOK_OPEN_S + KERNEL_READY_S
HINT_EN, HINT_ZH = KEPT_POWER
WRONG_DQ_DB = KEPT_POWER_DQ_DB
needs_model_lesson = pytest.mark.skipif(
    MODEL_LESSON not in RELEASED, reason=f"{MODEL_LESSON} is not released"
)


def no_news_toast(page) -> None:
    toasts = " ".join(page.locator(".jp-toast-message").all_text_contents())
    assert "news" not in toasts.lower(), f"JupyterLab asked about news: {toasts}"


def get_json(lab, path: str):
    with urllib.request.urlopen(lab.api(path), timeout=30) as r:
        return json.load(r)


def test_start_page_explains_the_course_and_links_every_lesson(lab, page):
    start = Notebook.open(lab, page, "START_HERE.ipynb")
    text = start.markdown_text()
    assert "Learning torch.autograd" in text and "学习 torch.autograd" in text
    assert "Validate" in text and "COURSE_LANG" in text
    titles = [  # a title's code span (`.grad`) renders without its backticks
        tuple(t.replace("`", "") for t in _titles(ROOT / SOURCE_DIR / lesson / f"{lesson}.ipynb"))
        for lesson in RELEASED
    ]
    for en, zh in titles:
        assert en in text and zh in text, f"the start page does not link {en} / {zh}"
    positions = [text.index(en) for en, _ in titles]
    assert positions == sorted(positions), "lessons are listed in course order"
    assert renders_chinese(page), "Chinese shows as boxes: install fonts-wqy-microhei"
    screenshot(page, "01-start-page")
    # No news pop-up: the defaults JupyterLab serves (schema defaults with our overrides).
    no_news_toast(page)
    news = get_json(lab, f"/lab/api/settings/{NEWS_PLUGIN}")
    settings = {k: v.get("default") for k, v in news["schema"]["properties"].items()}
    settings.update(news["settings"])
    assert settings["fetchNews"] == "false" and settings["checkForUpdates"] is False

    # The first link opens its lesson in a new tab.
    start.panel.locator(".jp-RenderedMarkdown a", has_text=titles[0][0]).first.click()
    page.wait_for_selector(f'.lm-TabBar-tab.lm-mod-current:has-text("{RELEASED[0]}.ipynb")')
    first = Notebook.current(lab, page, f"{RELEASED[0]}/{RELEASED[0]}.ipynb")
    assert titles[0][0] in first.panel.locator(".jp-RenderedMarkdown h1").first.text_content()
    first.wait_kernel_ready()
    first.close()
    start.close()


def test_every_solution_runs_without_an_error(lab, page):
    """Run → Run All Cells in each lesson's solution, a few lessons at a time."""
    assert LESSONS, "no lesson in solutions/"
    queue, running, results = list(LESSONS), {}, {}
    while queue or running:
        # Open the next lesson as soon as a slot is free; it runs while we watch the others.
        if queue and len(running) < PARALLEL:
            lesson = queue.pop(0)
            nb = Notebook.open(lab, page, f"solutions/{lesson}/{lesson}.ipynb", wait=False)
            deadline = time.monotonic() + OPEN_S
            while not nb.ready():
                if time.monotonic() > deadline:
                    pytest.fail(f"{lesson}: not open with a ready kernel after {OPEN_S} s")
                time.sleep(0.2)
            nb.start_run_all()
            running[lesson] = (nb, time.monotonic())
            continue
        for lesson, (nb, started) in list(running.items()):
            finished, status = nb.run_all_status()
            took = time.monotonic() - started
            if finished or took > RUN_ALL_S:
                errors = nb.errors()
                nb.activate()
                if errors:
                    scroll_into_view(nb.panel.locator(STDERR).first)
                else:
                    nb.scroll_to_last_code_cell()
                screenshot(page, f"02-solution-{lesson}")
                results[lesson] = (finished, status, errors, took)
                nb.close()
                del running[lesson]
        time.sleep(0.3)
    print("\n".join(f"{lesson}: {r[1]} in {r[3]:.0f} s" for lesson, r in results.items()))
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


@needs_model_lesson
def test_learner_answers_runs_the_tests_and_validates(lab, page):
    released, answers, where = _cells(MODEL_LESSON)
    answers["dq_da"] = RIGHT_DQ_DA
    nb = Notebook.open(lab, page, f"{MODEL_LESSON}/{MODEL_LESSON}.ipynb")

    # Right answers everywhere (Validate runs them all); dq_da typed as a learner would.
    for gid, source in answers.items():
        nb.replace_source(where[gid], source)
    # Run the imports, then the answer and its test cell (Shift+Enter, Shift+Enter).
    nb.run_cells(next(i for i, c in enumerate(released.cells) if c.cell_type == "code"))
    nb.run_cells(my_q_cell(released.cells))  # the learner's own Q, which answers read
    da_test = _test_cell_after(released, where["dq_da"])
    assert da_test == where["dq_da"] + 1
    nb.run_cells(where["dq_da"], count=2)
    assert "✓" in nb.output_text(da_test) and not nb.errors(), nb.output_text(da_test)
    nb.scroll_to_cell(where["dq_da"])
    screenshot(page, "03-learner-right-answer")

    dialog = nb.validate()
    message = dialog.locator("#validation-message")
    assert "Success! Your notebook passes all the tests." in message.text_content()
    assert "validation-success" in message.get_attribute("class")
    screenshot(page, "04-validate-success")
    nb.close_dialog()

    # A wrong ∂Q/∂b: its test cell and Validate both say why, in both languages.
    db = where["dq_db"]
    nb.replace_source(db, WRONG_DQ_DB)
    nb.run_cells(db, count=2)
    db_test = _test_cell_after(released, db)
    assert db_test == db + 1
    feedback = nb.output_text(db_test)
    assert "✗" in feedback and HINT_EN in feedback and HINT_ZH in feedback, feedback
    nb.scroll_to_cell(db_test)
    screenshot(page, "05-learner-wrong-answer-hint")

    dialog = nb.validate()
    message = dialog.locator("#validation-message")
    text = message.text_content()
    assert "validation-failed" in message.get_attribute("class")
    assert 'check("differentiation.grad_b", dq_db)' in text
    assert HINT_EN in text and HINT_ZH in text, text[-2000:]
    # The failing cell's error is its verdict line (course_utils.feedback): the exercise's
    # title and the mistake, once per language; the detail and the inputs stay in the cell.
    title = get("differentiation.grad_b").title
    assert f"✗ {title.en}: " in text and f"✗ {title.zh}：" in text, text[-2000:]
    assert "input:" not in text and "输入：" not in text, text[-2000:]
    assert "grad_a" not in text, "only the wrong answer fails"
    scroll_to_bottom(dialog)
    screenshot(page, "06-validate-failure-hint")
    nb.close_dialog()
    nb.close()


def test_studying_alone_has_no_assignment_list_but_validate(lab, page):
    """`make lab` has no course to fetch from or submit to: nbgrader's Assignment List ("No
    courses found", three empty lists) and the Nbgrader menu are hidden, Validate stays. The
    server side still finds the exchange (no "exchange directory does not exist")."""
    assert get_json(lab, "/courses") == {"success": True, "value": []}
    listed = get_json(lab, f"/assignments?course_id={COURSE_ID}")
    assert listed["success"], listed

    start = Notebook.open(lab, page, "START_HERE.ipynb", wait_kernel=False)
    menus = [m.strip() for m in page.locator(".lm-MenuBar-itemLabel").all_text_contents()]
    assert "File" in menus and "Nbgrader" not in menus, menus
    assert start.panel.locator(".jp-Toolbar .validate-button").count() == 1
    click_menu(page, "View", "apputils:activate-command-palette")  # no Assignment List there
    palette = page.locator("#command-palette")
    palette.locator("input").fill("assignment")
    page.wait_for_timeout(500)
    assert "Assignment List" not in (palette.text_content() or "")
    no_news_toast(page)
    screenshot(page, "07-no-assignment-list")
    page.keyboard.press("Escape")
    start.close()
    assert "exchange directory does not exist" not in lab.log.read_text()


@needs_model_lesson
def test_chinese_edition_with_chinese_interface(lab, context):
    """`course edition --lang zh`, opened with JupyterLab switched to 中文 (Settings → Language)."""
    page = context.new_page()
    open_lab(lab, page, "chinese")
    start = Notebook.open(lab, page, "editions/zh/START_HERE.ipynb", wait_kernel=False)
    text = start.markdown_text()
    assert "学习 torch.autograd" in text and "Welcome" not in text
    user_setting = lab.settings / "@jupyterlab" / "translation-extension"
    try:
        page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
        page.locator('.lm-Menu-item[data-type="submenu"]', has_text="Language").first.click()
        page.locator(".lm-Menu-item", has_text="中文").first.click()
        page.locator(".jp-Dialog .jp-mod-accept").click()  # "Change and reload"
        page.wait_for_selector(".lm-MenuBar-itemLabel:text-is('文件')", timeout=90_000)
        page.wait_for_selector(".jp-LauncherCard, .jp-NotebookPanel", timeout=90_000)

        path = f"editions/zh/{MODEL_LESSON}/{MODEL_LESSON}.ipynb"
        lesson = Notebook.open(lab, page, path, wait_kernel=False, file_menu="文件")
        text = lesson.markdown_text()
        assert "第 3 课" in text and "You will learn" not in text, text[:500]
        assert renders_chinese(page), "Chinese shows as boxes: install fonts-wqy-microhei"
        screenshot(page, "08-zh-edition-chinese-interface")
    finally:
        shutil.rmtree(user_setting, ignore_errors=True)  # English again for whoever comes next
