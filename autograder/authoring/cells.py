"""Build lesson notebooks in the course's conventions (bilingual pairs, nbgrader cells).

Used to write a new lesson in solutions/ and by tests that build notebooks on the fly::

    nb = lesson([
        md("# Lesson 9 · Title", "# 第 9 课 · 标题"),
        code("import torch"),
        answer("my_fn", "def my_fn(x):\\n    ### BEGIN SOLUTION\\n    return x\\n    ### END SOLUTION"),
        tests("my_fn_tests", 2, 'check("lesson.my_fn", my_fn)'),
    ])
    write(nb, Path("solutions/09_title/09_title.ipynb"))
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbformat import NotebookNode

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _nbgrader(
    grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float | None = None
) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return meta


def md(en: str, zh: str) -> list[NotebookNode]:
    """An English cell and its Chinese twin."""
    return [
        nbformat.v4.new_markdown_cell(en.strip(), metadata={"tags": ["lang:en"]}),
        nbformat.v4.new_markdown_cell(zh.strip(), metadata={"tags": ["lang:zh"]}),
    ]


def maths(text: str) -> list[NotebookNode]:
    """A language-neutral markdown cell (formulas only)."""
    return [nbformat.v4.new_markdown_cell(text.strip(), metadata={"tags": ["lang:any"]})]


def code(source: str, *, tags: tuple[str, ...] = ()) -> list[NotebookNode]:
    meta = {"tags": list(tags)} if tags else {}
    return [nbformat.v4.new_code_cell(source.strip(), metadata=meta)]


def answer(grade_id: str, source: str) -> list[NotebookNode]:
    """A cell the learner fills in (its ``### BEGIN SOLUTION`` part becomes a stub)."""
    meta = {"nbgrader": _nbgrader(grade_id, grade=False, solution=True, locked=False)}
    return [nbformat.v4.new_code_cell(source.strip(), metadata=meta)]


def tests(grade_id: str, points: float, source: str) -> list[NotebookNode]:
    """A locked, graded test cell; it raises until the exercise is answered."""
    meta = {
        "nbgrader": _nbgrader(grade_id, grade=True, solution=False, locked=True, points=points),
        "tags": ["raises-exception"],
    }
    return [nbformat.v4.new_code_cell(source.strip(), metadata=meta)]


def lesson(parts: list[list[NotebookNode]]) -> NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [cell for part in parts for cell in part]
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cid = re.sub(r"[^A-Za-z0-9_-]", "-", grade_id) if grade_id else f"cell-{i:02d}"
        while cid in seen:
            cid += "-x"
        seen.add(cid)
        cell.id = cid
    return nb


def write(nb: NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    nbformat.write(nb, path)


class UnreadableNotebook(ValueError):
    """A file nbformat cannot read as a notebook."""


def read(path: Path, name: Path | str | None = None) -> NotebookNode:
    """``path`` as a notebook, or an error that names it (as ``name``, if given) and says
    what is wrong in one line, where nbformat's own would be a traceback."""
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # JSON, encoding, or not a notebook at all
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UnreadableNotebook(
            f"{name or path} is not a notebook that can be read: {first}"
        ) from None
