"""The course map: every lesson states its time, points and prerequisites, and they are true."""

import nbformat
import pytest

from autograder.authoring import course_map
from autograder.authoring.release import lesson_infos, lessons

MAX_MINUTES = 75  # a lesson fits in one sitting
PROJECT_MINUTES = 180  # the final project is meant for two to three hours


@pytest.fixture
def infos(root):
    return lesson_infos(root)


def test_every_lesson_has_its_place_in_the_map(root, infos):
    assert [i.folder for i in infos] == lessons(root)
    assert [i.number for i in infos] == list(range(1, len(infos) + 1)), "lessons numbered in order"
    for info in infos:
        limit = PROJECT_MINUTES if info.folder.endswith("_final_project") else MAX_MINUTES
        assert info.minutes and 0 < info.minutes <= limit, (info.folder, info.minutes)
        for lang in ("en", "zh"):
            assert info.requires[lang] and info.arc[lang] and info.title[lang], (info.folder, lang)


def test_the_line_under_each_title_matches_the_notebook(root, infos):
    for info in infos:
        nb = nbformat.read(root / "solutions" / info.folder / info.notebook, as_version=4)
        first = {
            lang: next(c.source for c in nb.cells if f"lang:{lang}" in c.metadata.get("tags", []))
            for lang in ("en", "zh")
        }
        for lang, text in first.items():
            assert info.header(lang) in text, (
                f"{info.folder} ({lang}): the title says {text.splitlines()[2]!r}"
            )


def test_points_are_summed_from_the_graded_cells(root, infos):
    for info in infos:
        nb = nbformat.read(root / "solutions" / info.folder / info.notebook, as_version=4)
        graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert info.points == sum(c.metadata["nbgrader"]["points"] for c in graded)
        assert info.points == course_map.graded_points(nb)


def test_the_start_page_shows_the_map_in_both_languages(root, infos):
    page = nbformat.read(root / "notebooks" / "START_HERE.ipynb", as_version=4)
    en, zh = page.cells[0].source, page.cells[1].source
    for info in infos:
        link = f"]({info.folder}/{info.notebook})"
        row_en = next(line for line in en.splitlines() if link in line)
        row_zh = next(line for line in zh.splitlines() if link in line)
        assert f"~{info.minutes} min | {info.points} |" in row_en, row_en
        assert f"约 {info.minutes} 分钟 | {info.points} |" in row_zh, row_zh
        assert info.requires["en"] in row_en and info.requires["zh"] in row_zh
    minutes, points = course_map.total(infos)
    assert f"{points} points" in en and f"{points} 分" in zh
    assert "```mermaid" in en and "```mermaid" in zh


def test_a_lesson_without_its_map_entry_is_visible(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Lesson 3 · Title", metadata={"tags": ["lang:en"]})]
    path = tmp_path / "03_x" / "03_x.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    info = course_map.lesson_info(path)
    assert info.number == 3 and info.minutes is None and info.points == 0
    assert "| ? |" not in course_map.table([info], "en") and "~? min" in course_map.table(
        [info], "en"
    )
