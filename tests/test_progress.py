"""The lesson's scoreboard (course_utils.progress): titles in order, verdicts, points, total."""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from autograder.authoring.samples import lesson_paths
from course_utils import check, progress
from course_utils import scoreboard as board
from course_utils.checks import CheckFailure
from tests.derivatives import KEPT_POWER, dq_da_for, dq_da_lambda, kept_power_for

ANSWER = dq_da_lambda()

LESSON = "02_derivatives"


@pytest.fixture(autouse=True)
def _fresh():
    board.RESULTS.clear()
    yield
    board.RESULTS.clear()


def released() -> dict:
    return json.loads(lesson_paths(LESSON)[1].read_text(encoding="utf-8"))


def test_each_exercise_by_title_with_its_verdict_and_points():
    check("differentiation.grad_a", dq_da_for())
    with pytest.raises(CheckFailure):
        check("differentiation.grad_b", kept_power_for())

    def stub(a, b, v):
        raise NotImplementedError()

    with pytest.raises(CheckFailure):
        check("differentiation.upstream", stub)
    text = board.scoreboard(released())
    en, zh = text.en.splitlines(), text.zh.splitlines()
    assert en[1].startswith("  ✓ Exercise 1") and en[1].endswith("1/1")
    assert en[2].startswith("  ✗ Exercise 2") and KEPT_POWER[0] in en[2]
    assert en[3].startswith("  … Exercise 3") and "not answered yet" in en[3]
    assert en[4].startswith("  · Exercise 4") and "not checked yet" in en[4]
    assert zh[1].startswith("  ✓ 练习 1") and KEPT_POWER[1] in zh[2] and "还没有作答" in zh[3]
    total = sum(
        float(c["metadata"]["nbgrader"].get("points", 0))
        for c in released()["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade")
    )
    assert en[-1].startswith(f"  Total: 1/{total:g}") and zh[-1].startswith(f"  合计：1/{total:g}")


def test_progress_in_a_kernel_finds_its_own_notebook(tmp_path):
    """JupyterLab tells the kernel its notebook (__session__); progress() needs no argument."""
    from nbclient import NotebookClient

    nb = nbformat.read(lesson_paths(LESSON)[1], as_version=4)
    path = tmp_path / f"{LESSON}.ipynb"
    nbformat.write(nb, path)
    runner = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "from course_utils import check, progress\n"
                f'check("differentiation.grad_a", {ANSWER})\nprogress()'
            )
        ]
    )
    old = os.environ.get("JPY_SESSION_NAME")
    os.environ["JPY_SESSION_NAME"] = f"some/folder/{LESSON}.ipynb"
    try:
        NotebookClient(
            runner, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
        ).execute()
    finally:
        if old is None:
            os.environ.pop("JPY_SESSION_NAME", None)
        else:
            os.environ["JPY_SESSION_NAME"] = old
    shown = "".join(o.get("text", "") for o in runner.cells[0].outputs)
    assert "✓ Exercise 1" in shown and "Total: 1/" in shown, shown
    progress("no-such-notebook.ipynb")  # a clear line, not a traceback
