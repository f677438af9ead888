"""Make sample submissions from a lesson: correct, blank, or with chosen answers wrong.

Used by the test suite and the grading benchmark; a scratch nbgrader course laid out
exactly like the real one (``make_course``) keeps every run away from the instructor's
own gradebook.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.config import RELEASE_DIR, ROOT, SOURCE_DIR

SOLUTION_BLOCK = re.compile(
    r"^[ \t]*### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION[ \t]*\n?", re.S | re.M
)


def grade_id(cell: NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def solved_source(source: str) -> str:
    """The solution cell as a learner who got it right would leave it (markers removed)."""
    return SOLUTION_BLOCK.sub(lambda m: m.group(1), source)


def points(nb: NotebookNode) -> dict[str, float]:
    """Points of every graded test cell, by grade_id."""
    return {
        grade_id(c): float(c.metadata["nbgrader"].get("points", 0))
        for c in nb.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("grade")
    }


def fill(
    released: NotebookNode, solution: NotebookNode, answers: dict[str, str] | None = None
) -> NotebookNode:
    """The released notebook with every answer cell solved, except those in ``answers``."""
    answers = answers or {}
    solved = {grade_id(c): solved_source(c.source) for c in solution.cells if grade_id(c)}
    nb = nbformat.from_dict(released)
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid and cell.metadata["nbgrader"].get("solution"):
            cell.source = answers.get(gid, solved[gid])
    return nb


def lesson_paths(lesson: str, root: Path = ROOT) -> tuple[Path, Path]:
    """(solution, released) notebook of a one-notebook lesson."""
    solution = next((root / SOURCE_DIR / lesson).glob("*.ipynb"))
    return solution, root / RELEASE_DIR / lesson / solution.name


def make_course(dest: Path, lessons: list[str], root: Path = ROOT) -> Path:
    """A scratch nbgrader course at ``dest`` with the given lessons' sources."""
    dest.mkdir(parents=True, exist_ok=True)
    for lesson in lessons:
        shutil.copytree(root / SOURCE_DIR / lesson, dest / SOURCE_DIR / lesson, dirs_exist_ok=True)
    (dest / "nbgrader_config.py").write_text(
        "from pathlib import Path\n"
        "from autograder.config import configure\n\n"
        "configure(get_config(), Path(__file__).resolve().parent)  # noqa: F821\n"
    )
    return dest


def submit(course: Path, student: str, lesson: str, nb: NotebookNode, name: str) -> Path:
    path = course / "submitted" / student / lesson / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
