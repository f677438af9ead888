"""Every lesson: the solution autogrades to full marks and the released version to 0.

One `course grade` run over all lessons, so each lesson's answers are also verified
outside the learner's kernel (the grader regenerates every exercise's inputs).
"""

import csv

import nbformat
import pytest

from autograder.authoring.release import lessons
from autograder.authoring.samples import lesson_paths, points
from tests.test_grade import course_grade

LESSONS = lessons()
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grade")]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("lessons")
    for lesson in LESSONS:
        solution_path, released_path = lesson_paths(lesson)
        for student, source in (("solution", solution_path), ("released", released_path)):
            path = base / "sub" / student / lesson / solution_path.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(source.read_bytes())
    proc = course_grade(
        str(base / "sub"), "--out", str(base / "out"), "--workers", "2", timeout=1200
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    rows = csv.DictReader((base / "out" / "grades.csv").open())
    return {(r["student_id"], r["assignment"]): float(r["score"]) for r in rows}


@pytest.mark.parametrize("lesson", LESSONS)
def test_solution_gets_full_marks_and_release_gets_zero(lesson, graded):
    solution = nbformat.read(lesson_paths(lesson)[0], as_version=4)
    total = sum(points(solution).values())
    assert total > 0 and len(points(solution)) >= 2, (
        "every lesson has at least two graded exercises"
    )
    assert graded[("solution", lesson)] == total
    assert graded[("released", lesson)] == 0
