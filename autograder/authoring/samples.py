"""Make sample submissions from a lesson: correct, blank, or with chosen answers wrong.

Used by `course samples`, the test suite and the grading benchmark; a scratch nbgrader course laid out
exactly like the real one (``make_course``) keeps every run away from the instructor's
own gradebook.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
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


# ---------------------------------------------------------------- a sample class
#
# What `course samples` writes for an instructor to try `course grade` on, and what the class
# view's tests grade: learners with answers planted in known numbers. Lesson 2's answers read
# the learner's own Q from MY_Q (the notebook's record of their variant), as a learner would,
# so each planted answer is right, or wrong the same way, whoever submits it.

# ∂Q/∂b with the power of b kept (the catalogue's exponent_not_lowered)
STILL_POWER = {
    "dq_db": "def dq_db(b):\n    d, q = MY_Q['d'], MY_Q['q']\n    return -d * q * b**q\n"
}
# ∂Q/∂a without its coefficient (the catalogue's constant_dropped)
NO_COEFFICIENT = {"dq_da": "def dq_da(a):\n    p = MY_Q['p']\n    return p * a ** (p - 1)\n"}
# ∂Q/∂b wrong in no catalogued way
ODD = {"dq_db": "def dq_db(b):\n    return -3 * b\n"}
# ∂Q/∂a with autograd, in an exercise done by hand (a rule broken)
BACKWARD = {
    "dq_da": (
        "def dq_da(a):\n"
        "    a = a.detach().clone().requires_grad_(True)\n"
        "    (3 * a**3).sum().backward()\n"
        "    return a.grad\n"
    )
}
# Two right answers in a style of their own, long enough for the similarity report to compare
# (a one-liner everyone writes is not): one learner's, and a copy with every name and comment
# changed.
COPIED = {
    "upstream": (
        "def grads_for_upstream(a, b, v):\n"
        "    # chain rule: each element's own slope, weighted by the upstream v\n"
        "    coef_a, pow_a = MY_Q['c'], MY_Q['p']\n"
        "    coef_b, pow_b = MY_Q['d'], MY_Q['q']\n"
        "    slope_a = coef_a * pow_a * a.pow(pow_a - 1)\n"
        "    slope_b = -coef_b * pow_b * b.pow(pow_b - 1)\n"
        "    weighted_a = slope_a * v\n"
        "    weighted_b = slope_b * v\n"
        "    return weighted_a, weighted_b\n"
    ),
    "accumulated": (
        "def grad_after_n_backward(a, b, n):\n"
        "    # every backward() adds the same gradient again\n"
        "    coef, power = MY_Q['c'], MY_Q['p']\n"
        "    total = torch.zeros_like(a)\n"
        "    for _ in range(n):\n"
        "        total = total + coef * power * a ** (power - 1)\n"
        "    return total\n"
    ),
}
RENAMES = {  # in this order: the comments first
    "chain rule: each element's own slope, weighted by the upstream v": "times v",
    "every backward() adds the same gradient again": "grads pile up",
    "slope": "rate",
    "weighted": "scaled",
    "coef": "k",
    "pow_": "e_",
    "power": "e",
    "total": "acc",
}


def renamed(answers: dict[str, str]) -> dict[str, str]:
    """``answers`` with their names and comments changed, as a copy made to look like one's own work would be."""
    out = {}
    for gid, code in answers.items():
        for old, new in RENAMES.items():
            code = code.replace(old, new)
        out[gid] = code
    return out


def copied_from_another(learner: str) -> dict[str, str]:
    """∂Q/∂a of another member of lesson 2's family than ``learner``'s, written out as a copy
    from a classmate would be."""
    from course_utils.derivative_families import COEFFICIENTS, YOUR_Q

    other = (YOUR_Q.index(learner) + 1) % len(COEFFICIENTS)
    c, p = COEFFICIENTS[other][:2]
    return {"dq_da": f"def dq_da(a):\n    return {c * p} * a**{p - 1}\n"}


@dataclass(frozen=True)
class Sample:
    """One sample learner's submission of a lesson."""

    student: str
    answers: dict[str, str] | None  # None: handed in blank; {}: every answer right
    # What the class view counts at each test cell that is not right (grade_id -> category,
    # as misconceptions.csv writes it: "blank", "rule", "unrecognised", "mistake:<name>")
    expect: dict[str, str] = field(default_factory=dict)
    group: str = "right"  # the kind of learner, for what `course samples` prints


def _lesson2() -> list[Sample]:
    def some(prefix, n, answers, expect, group):
        return [Sample(f"{prefix}_{i}", answers, expect, group) for i in range(1, n + 1)]

    other = "other_q_1"
    return [
        *some("right", 3, {}, {}, "right"),
        Sample("copy_a", COPIED, {}, "copies"),
        Sample("copy_b", renamed(COPIED), {}, "copies"),
        *some("power_kept", 3, STILL_POWER, {"dq_db_tests": "mistake:exponent_not_lowered"}, "b2"),
        *some("coef_dropped", 2, NO_COEFFICIENT, {"dq_da_tests": "mistake:constant_dropped"}, "c"),
        Sample("backward_1", BACKWARD, {"dq_da_tests": "rule"}, "rule"),
        Sample("odd_1", ODD, {"dq_db_tests": "unrecognised"}, "odd"),
        Sample(other, copied_from_another(other), {"dq_da_tests": "mistake:other-variant"}, "cp"),
        Sample("blank_1", None, {}, "blank"),
    ]


# Lessons with a class of their own; any other lesson gets a plainer one (:func:`plain_class`).
PLANNED = {"02_derivatives": _lesson2}
DEFAULT_LESSON = "02_derivatives"  # about 15 s to grade its class with 2 workers on 2 cores


def wrong_answers(solution: NotebookNode) -> dict[str, str]:
    """The first answer cell with its solution replaced by ``return None``."""
    for cell in solution.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and SOLUTION_BLOCK.search(cell.source):

            def stub(m: re.Match) -> str:
                indent = re.match(r"[ \t]*", m.group(0)).group(0)
                return f"{indent}return None\n"

            return {grade_id(cell): SOLUTION_BLOCK.sub(stub, cell.source)}
    return {}


def plain_class(solution: NotebookNode) -> list[Sample]:
    """Any lesson: three right, one with its first answer wrong, one blank."""
    return [
        *(Sample(f"right_{i}", {}) for i in range(1, 4)),
        Sample("wrong_1", wrong_answers(solution), group="wrong"),
        Sample("blank_1", None, group="blank"),
    ]


def sample_class(lesson: str, root: Path = ROOT) -> list[Sample]:
    if lesson in PLANNED:
        return PLANNED[lesson]()
    solution, _ = lesson_paths(lesson, root)
    return plain_class(nbformat.read(solution, as_version=4))


def timestamp(i: int) -> str:
    """The i-th learner's submission time, as nbgrader's ``timestamp.txt`` holds it."""
    when = FIRST_SUBMISSION + timedelta(minutes=37 * i)
    return when.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


FIRST_SUBMISSION = datetime(2027, 3, 1, 9, 0, 0, tzinfo=timezone.utc)


def write_class(course: Path, lesson: str, root: Path = ROOT) -> list[tuple[Sample, Path]]:
    """The lesson's sample class in ``course/submitted/<student>/<lesson>/``, each with a
    ``timestamp.txt``; their folders are replaced."""
    solution_path, released_path = lesson_paths(lesson, root)
    solution = nbformat.read(solution_path, as_version=4)
    released = nbformat.read(released_path, as_version=4)
    written = []
    for i, sample in enumerate(sample_class(lesson, root)):
        nb = released if sample.answers is None else fill(released, solution, sample.answers)
        folder = course / "submitted" / sample.student / lesson
        shutil.rmtree(folder, ignore_errors=True)
        path = submit(course, sample.student, lesson, nb, solution_path.name)
        (folder / "timestamp.txt").write_text(timestamp(i) + "\n")
        written.append((sample, path))
    return written
