"""What a learner reads in JupyterLab after a wrong answer, and the lesson's scoreboard.

In the bilingual workspace and in the Chinese edition (with a kernel that has ``COURSE_LANG=zh``,
as under ``COURSE_LANG=zh make lab``): a wrong answer's feedback fits in one screen and starts
with the recognised mistake; ``progress()`` then shows every exercise by its title, with the
right totals after a wrong, a blank and a right answer. The feedback is the HTML block of
course_utils.feedback: the verdict first, the detail, the hint folded until clicked.
Screenshots: test-artifacts/browser/feedback-wrong-<lang>.png, feedback-hint-<lang>.png and
scoreboard-<lang>.png.
"""

from __future__ import annotations

import nbformat
import pytest

from autograder.authoring.samples import grade_id, solved_source
from autograder.config import RELEASE_DIR, ROOT, SOURCE_DIR
from course_utils.checks import SHOWN_ABOVE
from course_utils.scoreboard import rows
from tests.browser.conftest import VIEWPORT, ZH_KERNEL
from tests.browser.jlab import STDERR, Notebook, screenshot, scroll_into_view
from tests.derivatives import KEPT_POWER, KEPT_POWER_DQ_DB, my_q_cell

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

LESSON = "02_derivatives"
WRONG = ("dq_db", KEPT_POWER_DQ_DB)  # the power rule half applied
BLANK = "dq_da"  # left as the stub: raise NotImplementedError()
RIGHT = "upstream"
# upstream answered wrong first, with no mistake the catalogue knows: its feedback has a hint.
UNRECOGNISED = "def grads_for_upstream(a, b, v):\n    return a + 1.0, b + 1.0\n"
HINT_LABEL = {"en": "Hint", "zh": "提示"}
MISTAKE = {"en": KEPT_POWER[0], "zh": KEPT_POWER[1]}
WORKSPACES = {
    "both": f"{LESSON}/{LESSON}.ipynb",  # what `make lab` serves: work/both/
    "zh": f"editions/zh/{LESSON}/{LESSON}.ipynb",  # `course edition --lang zh`
}


def _fresh_copy(lab, lang: str) -> str:
    """A fresh copy of the lesson beside the served one (another test's Validate may have saved
    its answers there); in Chinese it runs in the COURSE_LANG=zh kernel."""
    path = WORKSPACES[lang]
    source = ROOT / RELEASE_DIR / LESSON / f"{LESSON}.ipynb" if lang == "both" else lab.root / path
    nb = nbformat.read(source, as_version=4)
    if lang == "zh":
        nb.metadata["kernelspec"] = {
            "name": ZH_KERNEL,
            "display_name": ZH_KERNEL,
            "language": "python",
        }
    copy = path.removesuffix(".ipynb") + f"-feedback-{lang}.ipynb"
    nbformat.write(nb, lab.root / copy)
    return copy


def _test_cell_after(nb, index: int) -> int:
    return next(
        i
        for i in range(index + 1, len(nb.cells))
        if nb.cells[i].get("metadata", {}).get("nbgrader", {}).get("grade")
    )


@pytest.mark.parametrize("lang", ["both", "zh"])
def test_wrong_answer_feedback_and_scoreboard(lab, page, lang):
    path = _fresh_copy(lab, lang)
    served = nbformat.read(lab.root / path, as_version=4)
    where = {grade_id(c): i for i, c in enumerate(served.cells) if grade_id(c)}
    solution = nbformat.read(ROOT / SOURCE_DIR / LESSON / f"{LESSON}.ipynb", as_version=4)
    right = next(solved_source(c.source) for c in solution.cells if grade_id(c) == RIGHT)
    code = [i for i, c in enumerate(served.cells) if c.cell_type == "code"]
    imports = code[0]
    board = next(i for i in code if "progress()" in served.cells[i].source)

    nb = Notebook.open(lab, page, path)
    try:
        nb.run_cells(imports)
        nb.run_cells(my_q_cell(served.cells))  # the learner's own Q, which answers read

        # A wrong answer: its feedback is the block (course_utils.feedback), whose first line
        # names the mistake; nothing of it is repeated as red text; it fits on screen.
        wrong, source = WRONG
        nb.replace_source(where[wrong], source)
        nb.run_cells(where[wrong], count=2)
        test = _test_cell_after(served, where[wrong])
        block = nb.cell(test).locator(".course-feedback-wrong")
        assert block.count() == 1
        first = (block.inner_text().strip().splitlines() or [""])[0]
        expected = MISTAKE["zh" if lang == "zh" else "en"]
        assert expected in first and first.lstrip().startswith("✗"), first
        if lang == "both":
            assert MISTAKE["zh"] in block.locator(".course-feedback-verdict").inner_text()
        else:
            assert "power rule" not in block.inner_text()
        red = nb.cell(test).locator(STDERR).all_inner_texts()
        assert [t.strip() for t in red] == [SHOWN_ABOVE.render("zh" if lang == "zh" else "both")]
        output = nb.cell(test).locator(".jp-OutputArea")
        height = output.bounding_box()["height"]
        assert height < VIEWPORT["height"], f"the feedback is {height:.0f} px high"
        scroll_into_view(nb.cell(where[wrong]))
        screenshot(page, f"feedback-wrong-{lang}")

        # A wrong answer with no catalogued mistake gets a hint: folded, and it opens on click.
        nb.replace_source(where[RIGHT], UNRECOGNISED)
        nb.run_cells(where[RIGHT], count=2)
        hint = nb.cell(_test_cell_after(served, where[RIGHT])).locator(
            ".course-feedback-wrong details"
        )
        assert hint.count() == 1 and hint.get_attribute("open") is None
        label = HINT_LABEL["zh" if lang == "zh" else "en"]
        assert hint.locator("summary").inner_text().startswith(label)
        body = hint.locator("div").first
        assert not body.is_visible()
        hint.locator("summary").click()
        body.wait_for(state="visible")
        assert hint.get_attribute("open") is not None and body.inner_text().strip()
        scroll_into_view(nb.cell(where[RIGHT]))
        screenshot(page, f"feedback-hint-{lang}")

        # A blank answer (the stub as it is), then a right one.
        nb.run_cells(where[BLANK], count=2)
        nb.replace_source(where[RIGHT], right)
        nb.run_cells(where[RIGHT], count=2)
        assert "✓" in nb.output_text(_test_cell_after(served, where[RIGHT]))

        # The scoreboard: every exercise by its title, its state and points, the totals.
        nb.run_cells(board)
        text = nb.cell(board).locator(".jp-OutputArea").inner_text()
        exercises = rows(served)
        total = sum(r.points for r in exercises)
        earned = next(r.points for r in exercises if f"differentiation.{RIGHT}" in r.exercises)
        langs = ["zh"] if lang == "zh" else ["en", "zh"]
        marks = {f"differentiation.{e}": m for e, m in (("upstream", "✓"), ("grad_b", "✗"))}
        marks["differentiation.grad_a"] = "…"  # dq_da's exercise
        for row in exercises:
            mark = next((marks[e] for e in row.exercises if e in marks), "·")
            gained = row.points if mark == "✓" else 0
            for lg in langs:
                title = row.title.render(lg)
                assert f"{mark} {title}  {gained:g}/{row.points:g}" in text, (title, text)
        assert MISTAKE["zh"] in text and "还没有作答" in text
        if lang == "both":
            assert f"Total: {earned:g}/{total:g}" in text and MISTAKE["en"] in text
            assert "not answered yet" in text
        else:
            assert "Total" not in text and "not answered" not in text
        assert f"合计：{earned:g}/{total:g}" in text
        scroll_into_view(nb.cell(board))
        screenshot(page, f"scoreboard-{lang}")
    finally:
        nb.close()
