"""A check's verdict as an HTML block (course_utils.feedback), with the plain text kept.

In a notebook kernel a check displays ``text/html`` (verdict, detail, the hint in a closed
``<details>``) beside ``text/plain`` (the text a terminal, nbval and the grader read), and the
failure's traceback then says only that the check did not pass; under nbgrader's Validate the traceback is the verdict line
alone; outside a kernel nothing changes.
"""

from __future__ import annotations

import os
import re

import nbformat
import pytest
from bs4 import BeautifulSoup

from course_utils import feedback
from course_utils.checks import SHOWN_ABOVE, CheckFailure
from course_utils.i18n import Msg
from tests.derivatives import right_dq_da

WRONG = Msg(
    "✗ The <b>loss</b>: you summed where the mean is asked.\n"
    "  1 of 3 element(s) differ:\n"
    "    at index 0: expected 1, got <img src=x onerror=alert(1)>\n"
    "  input: x<script> (3,) = [1, 2, 3]\n"
    "Hint 1/2: divide by `len(x)` & <i>check</i>.\n"
    '(A stronger hint comes with your next attempt, or now: more_help("a.b").)',
    "✗ 损失<b>：你求了和，而题目要的是平均值。\n"
    "  3 个元素中有 1 个不对：\n"
    "    下标 0：应为 1，实际为 <img src=x onerror=alert(1)>\n"
    "  输入：x<script> (3,) = [1, 2, 3]\n"
    "提示 1/2：除以 `len(x)` & <i>检查</i>。\n"
    '（再试一次会给出更具体的提示，也可以现在就运行 more_help("a.b")。）',
)


def _soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, features="html.parser")


def test_parts_cut_verdict_detail_and_hint():
    en = feedback.parts(WRONG.en, "en")
    assert (en.mark, en.title) == ("✗", "The <b>loss</b>")
    assert en.verdict == "you summed where the mean is asked."
    assert en.detail[0] == "1 of 3 element(s) differ:" and en.detail[1].startswith("  at index")
    assert en.hint_label == "Hint 1/2" and en.hint[0].startswith("divide by")
    zh = feedback.parts(WRONG.zh, "zh")
    assert (zh.title, zh.hint_label) == ("损失<b>", "提示 1/2") and zh.detail[-1].startswith("输入")


def test_every_text_is_escaped():
    html = feedback.block(WRONG, ok=False, lang="both", traceback=["  File '<x>'", "E: <y>"])
    tags = {t.name for t in _soup(html).find_all(True)}
    assert tags <= {"div", "span", "strong", "details", "summary", "br", "pre"}, tags
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "x&lt;script&gt;" in html
    assert "`len(x)` &amp; &lt;i&gt;check&lt;/i&gt;" in html


def test_the_hint_is_collapsed_and_the_verdict_comes_first():
    soup = _soup(feedback.block(WRONG, ok=False, lang="en"))
    hint = soup.find("details")
    assert hint is not None and not hint.has_attr("open")
    assert hint.summary.get_text() == "Hint 1/2" and "divide by" in hint.get_text()
    assert "more_help" in hint.get_text()  # the pointer belongs to the hint
    text = soup.get_text(" ", strip=True)
    assert text.startswith("✗ The <b>loss</b> : you summed where the mean is asked.")
    assert text.index("expected 1") < text.index("input") < text.index("divide by")
    assert "divide by" not in soup.find(class_="course-feedback-detail").get_text()


@pytest.mark.parametrize("lang", ["en", "zh", "both"])
def test_each_language_once_per_course_lang(monkeypatch, lang):
    monkeypatch.setenv("COURSE_LANG", lang)
    text = _soup(feedback.block(WRONG, ok=False)).get_text(" ")
    for words, shown in (
        ("you summed where the mean", lang in ("en", "both")),
        ("你求了和", lang in ("zh", "both")),
        ("at index 0", lang in ("en", "both")),
        ("下标 0", lang in ("zh", "both")),
        ("divide by", lang in ("en", "both")),
        ("除以", lang in ("zh", "both")),
    ):
        assert text.count(words) == (1 if shown else 0), (words, lang)
    assert bool(re.search(r"[\u4e00-\u9fff]", text)) == (lang != "en")


def test_a_right_verdict_is_green_and_has_no_hint():
    ok = Msg("✓ The loss: right on 3 random input(s).", "✓ 损失：3 组随机输入全部正确。")
    html = feedback.block(ok, ok=True, lang="both")
    assert "course-feedback-right" in html and "--jp-success-color1" in html
    assert "<details" not in html and "course-feedback-detail" not in html
    # JupyterLab's theme variables: the block follows the light and the dark theme
    assert "--jp-error-color1" in feedback.block(WRONG, ok=False) and "#" not in re.sub(
        r"var\([^)]*\)|&#x27;|&#\d+;", "", feedback.block(WRONG, ok=False)
    )


def _failure_with_cause() -> CheckFailure:
    def learners_function():
        return {}["missing"]

    try:
        try:
            learners_function()
        except KeyError as error:
            raise CheckFailure(WRONG) from error
    except CheckFailure as failure:
        return failure
    raise AssertionError("unreachable")


def test_outside_a_notebook_the_traceback_is_the_whole_text(monkeypatch, capsys):
    monkeypatch.delenv(feedback.VALIDATING_ENV, raising=False)
    failure = _failure_with_cause()
    feedback.show_wrong(failure)  # no kernel here: nothing displayed, nothing changed
    assert capsys.readouterr().out == "" and not failure.shown
    lines = failure._render_traceback_()
    assert lines[: len(WRONG.render().splitlines())] == WRONG.render().splitlines()
    assert "Traceback of your function:" in lines and "你的函数的报错回溯（traceback）：" in lines
    assert any("learners_function" in line for line in lines) and lines[-1].startswith("KeyError")
    assert lines == failure.full_traceback()
    feedback.show_right(Msg("✓ A: right.", "✓ 甲：对。"))  # printed as say() prints it
    assert capsys.readouterr().out == "✓ A: right.\n✓ 甲：对。\n"


def test_under_validate_the_traceback_is_the_verdict_line(monkeypatch):
    monkeypatch.setenv(feedback.VALIDATING_ENV, "1")
    failure = _failure_with_cause()
    assert failure._render_traceback_() == [WRONG.en.splitlines()[0], WRONG.zh.splitlines()[0]]
    monkeypatch.setenv("COURSE_LANG", "zh")
    assert failure._render_traceback_() == [WRONG.zh.splitlines()[0]]


def _run_in_kernel(tmp_path, cells: list[str], env: dict[str, str] | None = None):
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": tmp_path}},
    )
    client.execute(env={**os.environ, **(env or {})})  # nbclient starts the kernel with it
    return nb


ANSWERS = [
    "from course_utils import check",
    right_dq_da(),  # the default learner's right ∂Q/∂a
    "def dq_db(b):\n    return b * 0 + 1.0",  # wrong, and no catalogued mistake: a hint
    'check("differentiation.grad_a", dq_da)',
    'check("differentiation.grad_b", dq_db)',
]


def test_in_a_kernel_a_check_displays_the_block_and_the_text(tmp_path):
    nb = _run_in_kernel(tmp_path, ANSWERS)
    right, wrong = nb.cells[3].outputs, nb.cells[4].outputs
    assert [o.output_type for o in right] == ["display_data"], right
    assert right[0].data["text/plain"].startswith("✓ ∂Q/∂a")
    assert "course-feedback-right" in right[0].data["text/html"]
    assert [o.output_type for o in wrong] == ["display_data", "error"], wrong
    shown, error = wrong
    # The plain text is the diagnosis as a terminal shows it; the traceback, one line.
    assert shown.data["text/plain"] == error.evalue
    assert error.traceback == SHOWN_ABOVE.render().splitlines() and "✗" not in error.traceback[0]
    assert shown.data["text/plain"].startswith("✗ ∂Q/∂b") and "\n✗ " in shown.data["text/plain"]
    soup = _soup(shown.data["text/html"])
    first = soup.find(class_="course-feedback-verdict").get_text(" ", strip=True)
    assert first.startswith("✗ ∂Q/∂b") and "✗ 手算 ∂Q/∂b" in first
    hint = soup.find("details")
    assert hint is not None and not hint.has_attr("open") and "提示" in hint.summary.get_text()


def test_under_validate_a_kernel_shows_the_verdict_line_only(tmp_path):
    nb = _run_in_kernel(tmp_path, ANSWERS, env={feedback.VALIDATING_ENV: "1"})
    right, wrong = nb.cells[3].outputs, nb.cells[4].outputs
    assert [o.output_type for o in right] == ["stream"] and "✓" in right[0].text
    assert [o.output_type for o in wrong] == ["error"], wrong
    lines = wrong[0].traceback
    assert len(lines) == 2 and lines[0].startswith("✗ ∂Q/∂b") and lines[1].startswith("✗ 手算")
    assert wrong[0].evalue.startswith(lines[0])  # the whole text is still the exception's


def _graded_cell(gid: str, outputs: list) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell('check("x.y", f)')
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": gid, "points": 1}
    cell.outputs = outputs
    return cell


def test_the_feedback_page_shows_the_graders_own_verdicts_as_blocks():
    """VerdictBlocks: from the message recorded with the grader's verdict, not from outputs."""
    from autograder.grading import notes
    from autograder.grading.preprocessors import VerdictBlocks

    right = Msg(
        "✓ A: right on all 8 inputs the grader chose.", "✓ 甲：评分程序选定的 8 组输入全部正确。"
    )
    learner_html = nbformat.v4.new_output(  # as EscapeLearnerHTML left it
        "display_data", data={"text/html": "&lt;script&gt;", "text/plain": "x"}
    )
    forged = nbformat.v4.new_output(  # a learner's own "GradingError", another text
        "error", ename="GradingError", evalue="✓ all right", traceback=["✓ all right"]
    )
    nb = nbformat.v4.new_notebook(
        cells=[
            _graded_cell("wrong", [learner_html, forged]),
            _graded_cell("right", []),
            _graded_cell("old", []),  # graded before verdicts carried a message
        ]
    )
    nb.cells[1].outputs.append(
        nbformat.v4.new_output(
            "display_data", data={"text/plain": right.render("both")}, metadata={notes.PASSED: True}
        )
    )
    notes.fail_cell(nb.cells[0], WRONG)
    notes.fail_cell(nb.cells[2], WRONG)
    notes.set_verdict(nb, "wrong", "x.y", "wrong", message=WRONG)
    notes.set_verdict(nb, "right", "x.y", "right", message=right)
    notes.set_verdict(nb, "old", "x.y", "wrong")
    VerdictBlocks().preprocess(nb, {})

    wrong_out = nb.cells[0].outputs
    assert wrong_out[:2] == [learner_html, forged]  # the learner's outputs, as they were
    assert wrong_out[2].output_type == "display_data"
    assert wrong_out[2].data["text/plain"] == WRONG.render("both")
    html = wrong_out[2].data["text/html"]
    assert "course-feedback-wrong" in html and "<details" in html and "<script" not in html
    assert "你求了和" in html and "you summed" in html  # the feedback page is bilingual
    assert "course-feedback-right" in nb.cells[1].outputs[0].data["text/html"]
    assert nb.cells[2].outputs[0].output_type == "error"  # no message recorded: the text stays
