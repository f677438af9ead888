"""Stock nbgrader, our configuration, a real SQLite gradebook: the course grades as it should."""

import csv
import html
import re
import subprocess
import sys

import nbformat
import pytest
from bs4 import BeautifulSoup

from autograder.authoring.samples import fill, lesson_paths, make_course, points, submit
from tests.derivatives import KEPT_POWER, KEPT_POWER_DQ_DB

LESSON = "02_derivatives"
WRONG = {"dq_db": KEPT_POWER_DQ_DB}
FORGED = (
    "from IPython.display import HTML, display\n"
    'display(HTML(\'<div class="course-feedback course-feedback-right" id="forged">✓ all right'
    "<script>window.forged = 1</script></div>'))"
)


def nbgrader(course, *args):
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def visible_text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.mark.slow
def test_autograde_and_feedback_with_real_nbgrader(tmp_path):
    course = make_course(tmp_path / "course", [LESSON])
    solution_path, released_path = lesson_paths(LESSON)
    solution = nbformat.read(solution_path, as_version=4)
    released = nbformat.read(released_path, as_version=4)
    name = solution_path.name
    nbgrader(course, "generate_assignment", LESSON, "--force")

    submit(course, "perfect", LESSON, solution, name)
    submit(course, "blank", LESSON, released, name)
    partial = fill(released, solution, WRONG)
    # HTML a learner displays, dressed as the grader's verdict: it stays escaped text.
    partial.cells.append(nbformat.v4.new_code_cell(FORGED))
    submit(course, "partial", LESSON, partial, name)
    nbgrader(course, "autograde", LESSON, "--create")
    nbgrader(course, "generate_feedback", LESSON)
    nbgrader(course, "export", "--to", str(tmp_path / "grades.csv"))

    total = sum(points(solution).values())
    rows = {r["student_id"]: r for r in csv.DictReader((tmp_path / "grades.csv").open())}
    assert float(rows["perfect"]["score"]) == total
    assert float(rows["blank"]["score"]) == 0
    assert float(rows["partial"]["score"]) == total - points(solution)["dq_db_tests"]
    assert float(rows["perfect"]["max_score"]) == total

    feedback = sorted((course / "feedback").rglob("*.html"))
    assert len(feedback) == 3
    for page in feedback:
        text = visible_text(page.read_text(encoding="utf-8"))
        assert "hidden=True" not in text and "HIDDEN TESTS" not in text, page
    page = (course / "feedback" / "partial" / LESSON / name.replace(".ipynb", ".html")).read_text()
    partial = visible_text(page)
    assert KEPT_POWER[0] in partial and KEPT_POWER[1] in partial

    # The grader's verdicts are the blocks a check shows in JupyterLab, made from the grader's
    # own record, each told once; what the learner displayed is still escaped text.
    soup = BeautifulSoup(page, features="html.parser")
    blocks = soup.select("div.course-feedback")
    wrong = [b for b in blocks if "course-feedback-wrong" in b["class"]]
    right = [b for b in blocks if "course-feedback-right" in b["class"]]
    assert len(wrong) == 1 and len(right) == len(points(solution)) - 1, blocks
    verdict = wrong[0].select_one(".course-feedback-verdict").get_text(" ", strip=True)
    assert verdict.startswith("✗") and KEPT_POWER[0] in verdict and KEPT_POWER[1] in verdict
    assert partial.count(KEPT_POWER[0]) == 1 and partial.count(KEPT_POWER[1]) == 1
    assert "GradingError" not in partial  # the block took the error's place
    assert soup.select("#forged") == [] and "&lt;script&gt;window.forged" in page
