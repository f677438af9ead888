"""Every lesson: the solution autogrades to full marks and the released version to 0."""

import csv

import nbformat
import pytest

from autograder.release import lessons
from autograder.samples import lesson_paths, make_course, points, submit
from tests.test_nbgrader_e2e import nbgrader

LESSONS = lessons()


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS)
def test_solution_gets_full_marks_and_release_gets_zero(lesson, tmp_path):
    course = make_course(tmp_path / "course", [lesson])
    solution_path, released_path = lesson_paths(lesson)
    solution = nbformat.read(solution_path, as_version=4)
    total = sum(points(solution).values())
    assert total > 0 and len(points(solution)) >= 3, (
        "every lesson has at least three graded exercises"
    )
    nbgrader(course, "generate_assignment", lesson, "--force")
    submit(course, "solution", lesson, solution, solution_path.name)
    submit(
        course, "released", lesson, nbformat.read(released_path, as_version=4), solution_path.name
    )
    nbgrader(course, "autograde", lesson, "--create")
    nbgrader(course, "export", "--to", str(tmp_path / "grades.csv"))
    rows = {r["student_id"]: r for r in csv.DictReader((tmp_path / "grades.csv").open())}
    assert float(rows["solution"]["score"]) == total
    assert float(rows["released"]["score"]) == 0
