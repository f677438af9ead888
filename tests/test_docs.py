"""The docs tables point at lessons and sections that exist."""

import re

import nbformat
import pytest

from autograder.authoring.release import lessons

TABLES = ["SOURCE_MAP.md", "TOPICS.md"]


def rows(path):
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        at = [i for i, c in enumerate(cells[:-1]) if re.fullmatch(r"\d\d_\w+", c)]
        if at:
            yield cells[at[0]], cells[at[0] + 1]


def headings(root, lesson):
    nb = nbformat.read(next((root / "solutions" / lesson).glob("*.ipynb")), as_version=4)
    return {
        line.lstrip("#").strip()
        for cell in nb.cells
        if cell.cell_type == "markdown"
        # an aside about Chinese words has no English twin: its Chinese heading names it
        and {"lang:en", "aside:zh"} & set(cell.metadata.get("tags", []))
        for line in cell.source.splitlines()
        if line.startswith("#")
    }


@pytest.mark.parametrize("table", TABLES)
def test_every_row_names_a_real_section(root, table):
    found = list(rows(root / "docs" / table))
    assert len(found) >= 10
    for lesson, section in found:
        assert lesson in lessons(root), lesson
        assert section in headings(root, lesson), f"{table}: {lesson} has no section '{section}'"


def test_every_lesson_appears_in_the_topics(root):
    covered = {lesson for lesson, _ in rows(root / "docs" / "TOPICS.md")}
    assert covered == set(lessons(root))
