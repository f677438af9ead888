"""docs/EXERCISES.md lists every graded exercise, with its points and what it asks, up to date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

from autograder.authoring.exercises_doc import DOC, generate, graded_checks
from autograder.config import ROOT, SOURCE_DIR


def _lesson(root: Path, name: str, checks: list[tuple[str, int]]) -> None:
    """A lesson whose graded cells check the given exercises, for the given points."""
    cells = [nbformat.v4.new_markdown_cell("# A lesson")]
    for i, (exercise_id, points) in enumerate(checks):
        meta = {"grade": True, "solution": False, "points": points, "grade_id": f"t{i}"}
        cells.append(
            nbformat.v4.new_code_cell(
                f'check("{exercise_id}", f{i})\n### BEGIN HIDDEN TESTS\n'
                f'check("{exercise_id}", f{i}, hidden=True)\n### END HIDDEN TESTS',
                metadata={"nbgrader": meta},
            )
        )
    cells.append(nbformat.v4.new_code_cell('check("differentiation.grad_a", g)'))  # not graded
    folder = root / SOURCE_DIR / name
    folder.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / f"{name}.ipynb")


def test_the_document_is_up_to_date_and_complete():
    text, problems = generate(ROOT)
    assert problems == [], "\n".join(problems)
    on_disk = (ROOT / DOC).read_text(encoding="utf-8") if (ROOT / DOC).exists() else ""
    assert on_disk == text, f"{DOC} is out of date: run `course exercises`"


def test_every_graded_check_of_every_lesson_has_a_row():
    text, _ = generate(ROOT)
    rows = graded_checks(ROOT)
    assert rows, "the lessons have graded checks"
    for row in rows:
        assert f"| `{row.exercise}` (" in text and f"| `{row.cell}` |" in text
    assert {r.lesson for r in rows} == {
        p.parent.name for p in (ROOT / SOURCE_DIR).glob("*/*.ipynb") if "grade" in p.read_text()
    }


def test_rows_come_from_graded_cells_under_any_lesson_name(tmp_path):
    _lesson(tmp_path, "07_a_new_name", [("differentiation.grad_a", 3), ("no_such.exercise", 2)])
    text, problems = generate(tmp_path)
    assert "## 07_a_new_name" in text
    assert "| `differentiation.grad_a` (" in text and "| `t0` | 3 |" in text
    assert "| **all** | 2 | 5 | 100% |" in text  # the ungraded check counts for nothing
    assert len(problems) == 1 and "no_such.exercise" in problems[0] and "t1" in problems[0]


def test_totals_count_points_per_kind(tmp_path):
    from course_utils.exercises import get

    prediction = "differentiation.gradcheck_rejects"
    _lesson(tmp_path, "01_x", [("differentiation.grad_a", 3), (prediction, 1)])
    text, _ = generate(tmp_path)
    kinds = {get("differentiation.grad_a").asks: 3.0}
    kinds[get(prediction).asks] = kinds.get(get(prediction).asks, 0) + 1
    for kind, points in kinds.items():
        assert any(
            line.startswith(f"| {kind} |") and f"| {points:g} |" in line
            for line in text.splitlines()
        ), (kind, text)
    thinking = sum(p for k, p in kinds.items() if k != "transcribe")
    assert f"**{thinking:g} of 4 points ({thinking / 4:.0%})**" in text


def test_check_fails_on_a_stale_document_and_writing_fixes_it(tmp_path):
    _lesson(tmp_path, "01_x", [("differentiation.grad_a", 1)])
    (tmp_path / "docs").mkdir()
    command = [sys.executable, "-m", "autograder.commands.exercises", "--root", str(tmp_path)]
    stale = subprocess.run([*command, "--check"], capture_output=True, text=True, cwd=ROOT)
    assert stale.returncode == 1 and "out of date" in stale.stdout
    wrote = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert wrote.returncode == 0, wrote.stdout + wrote.stderr
    fresh = subprocess.run([*command, "--check"], capture_output=True, text=True, cwd=ROOT)
    assert fresh.returncode == 0, fresh.stdout
