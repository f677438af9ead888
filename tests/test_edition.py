"""course edition: one-language editions of the learner notebooks that still grade."""

from __future__ import annotations

import csv
import re
import shutil

import nbformat
import pytest

from autograder.authoring.bilingual import PROSE_WORDS, _comments_and_docstrings
from autograder.authoring.edition import (
    LANGS,
    build_edition,
    code_in_language,
    edition_notebook,
    keep_cell,
)
from autograder.authoring.release import START_PAGE, lessons
from autograder.authoring.samples import fill, lesson_paths, make_course, points, submit
from autograder.cli import main as course
from autograder.config import RELEASE_DIR, ROOT
from tests.test_nbgrader_e2e import LESSON, nbgrader

CJK = re.compile(r"[\u3400-\u9fff]")
# Lessons released so far (a lesson being written may not be in notebooks/ yet).
RELEASED = [lesson for lesson in lessons() if lesson_paths(lesson)[1].is_file()]


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def nbgrader_cells(nb, answers: bool = True) -> list[tuple]:
    """What nbgrader grades by: id, type, source and nbgrader metadata of its cells (without
    the answer cells, whose comments an edition puts in its language, unless ``answers``)."""
    return [
        (c.get("id"), c.cell_type, c.source, c.metadata["nbgrader"])
        for c in nb.cells
        if c.get("metadata", {}).get("nbgrader") and (answers or not is_answer(c))
    ]


def is_answer(cell) -> bool:
    grading = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and grading.get("solution") and not grading.get("grade")


@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    """The en and zh editions of the current notebooks/, built once."""
    out = {}
    for lang in ("en", "zh"):
        out[lang] = tmp_path_factory.mktemp(f"edition-{lang}")
        report = build_edition(lang, out=out[lang])
        assert report.written and not report.kept
    return out


def read(folder, rel):
    return nbformat.read(folder / rel, as_version=4)


def test_every_lesson_and_the_start_page_are_in_each_edition(editions):
    assert RELEASED, "no released lesson found"
    for folder in editions.values():
        assert (folder / START_PAGE).is_file()
        for lesson in RELEASED:
            name = lesson_paths(lesson)[1].name
            assert (folder / lesson / name).is_file(), f"{lesson}/{name} missing from {folder}"


@pytest.mark.parametrize("lesson", RELEASED)
def test_zh_edition_has_no_english_prose(editions, lesson):
    released_path = lesson_paths(lesson)[1]
    rel = released_path.relative_to(ROOT / RELEASE_DIR)
    bilingual, zh = nbformat.read(released_path, as_version=4), read(editions["zh"], rel)
    for i, cell in enumerate(zh.cells):
        if cell.cell_type == "markdown" and not cell.metadata.get("nbgrader"):
            assert "lang:en" not in tags(cell), f"{rel}: cell {i} is English prose"
            assert set(tags(cell)) & {"lang:zh", "lang:any"}, f"{rel}: cell {i} has no lang tag"
    # Every Chinese cell and every code cell is still there, in order; code cells with their
    # comments and docstrings in Chinese.
    kept = [
        code_in_language(c.source, "zh") if c.cell_type == "code" and not locked(c) else c.source
        for c in bilingual.cells
        if c.cell_type == "code" or "lang:en" not in tags(c)
    ]
    assert [c.source for c in zh.cells] == kept
    assert any(CJK.search(c.source) for c in zh.cells if c.cell_type == "markdown")
    for i, cell in enumerate(zh.cells):
        if cell.cell_type == "code" and not locked(cell):
            english = [
                t
                for t in _comments_and_docstrings(cell.source)
                if PROSE_WORDS.search(re.sub(r"\b(?:True|False|None)\b", "", t))
                and not CJK.search(t)
            ]
            assert not english, f"{rel}: cell {i}: English comments in the zh edition: {english}"


def locked(cell) -> bool:
    grading = cell.get("metadata", {}).get("nbgrader", {})
    return bool(grading.get("grade") or grading.get("locked") or grading.get("task"))


@pytest.mark.parametrize("lesson", RELEASED)
def test_en_edition_has_no_chinese_prose(editions, lesson):
    rel = lesson_paths(lesson)[1].relative_to(ROOT / RELEASE_DIR)
    for i, cell in enumerate(read(editions["en"], rel).cells):
        if cell.cell_type == "markdown" and not cell.metadata.get("nbgrader"):
            assert "lang:zh" not in tags(cell), f"{rel}: cell {i} is Chinese prose"
        if cell.cell_type == "code" and not locked(cell):
            chinese = [t for t in _comments_and_docstrings(cell.source) if CJK.search(t)]
            assert not chinese, f"{rel}: cell {i}: Chinese comments in the en edition: {chinese}"


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("lesson", RELEASED)
def test_graded_cells_are_byte_identical(editions, lesson, lang):
    released_path = lesson_paths(lesson)[1]
    rel = released_path.relative_to(ROOT / RELEASE_DIR)
    bilingual = nbformat.read(released_path, as_version=4)
    edition = read(editions[lang], rel)
    # Tests and locked cells byte for byte (hidden tests, checksums) ...
    assert nbgrader_cells(edition, answers=False) == nbgrader_cells(bilingual, answers=False)
    assert len(nbgrader_cells(edition)) >= 4  # at least two answers and their tests
    assert edition.metadata == bilingual.metadata
    # ... answers with their comments in the edition's language and a checksum that follows.
    from nbgrader.utils import compute_checksum

    mine = [c for c in edition.cells if is_answer(c)]
    theirs = [c for c in bilingual.cells if is_answer(c)]
    assert len(mine) == len(theirs) >= 2
    for ours, released in zip(mine, theirs, strict=True):
        assert ours.get("id") == released.get("id")
        assert ours.source == code_in_language(released.source, lang)
        assert "raise NotImplementedError()" in ours.source
        meta, released_meta = dict(ours.metadata.nbgrader), dict(released.metadata.nbgrader)
        assert meta.pop("checksum") == compute_checksum(ours)
        released_meta.pop("checksum")
        assert meta == released_meta


BILINGUAL_STUB = '''def dq_da(a):
    """∂Q/∂a for Q = 3a³ − b², element by element.
    Q = 3a³ − b² 对 a 的偏导数 ∂Q/∂a，逐元素计算。"""
    # Given: the operators above.
    # 已给出：上面的运算符。
    x = a + 1  # forward pass · 前向传播
    print(x)  # tensor([1.])
    s = "# not a comment · 不是注释"
    # YOUR CODE HERE (在此处写你的代码)
    raise NotImplementedError()'''


@pytest.mark.parametrize(
    "lang, expected",
    [
        (
            "en",
            '''def dq_da(a):
    """∂Q/∂a for Q = 3a³ − b², element by element."""
    # Given: the operators above.
    x = a + 1  # forward pass
    print(x)  # tensor([1.])
    s = "# not a comment · 不是注释"
    # YOUR CODE HERE
    raise NotImplementedError()''',
        ),
        (
            "zh",
            '''def dq_da(a):
    """Q = 3a³ − b² 对 a 的偏导数 ∂Q/∂a，逐元素计算。"""
    # 已给出：上面的运算符。
    x = a + 1  # 前向传播
    print(x)  # tensor([1.])
    s = "# not a comment · 不是注释"
    # 在此处写你的代码
    raise NotImplementedError()''',
        ),
        ("both", BILINGUAL_STUB),
    ],
)
def test_comments_and_docstrings_keep_the_editions_language(lang, expected):
    assert code_in_language(BILINGUAL_STUB, lang) == expected


def test_a_multi_line_docstring_and_a_cell_that_does_not_parse():
    doc = 'def f():\n    """First line.\n    Second line.\n    第一行。\n    第二行。\n    """\n    return 1'
    assert (
        code_in_language(doc, "en")
        == 'def f():\n    """First line.\n    Second line.\n    """\n    return 1'
    )
    assert (
        code_in_language(doc, "zh")
        == 'def f():\n    """第一行。\n    第二行。\n    """\n    return 1'
    )
    magic = "%%time\nx = (1  # open · 打开"
    assert code_in_language(magic, "zh") == magic


def test_start_page_edition_links_every_lesson_in_one_language(editions):
    for lang, folder in editions.items():
        page = read(folder, START_PAGE)
        text = "\n".join(c.source for c in page.cells)
        for lesson in RELEASED:
            assert f"({lesson}/{lesson_paths(lesson)[1].name})" in text
        if lang == "zh":
            assert "Welcome" not in text and "欢迎" in text
        else:
            assert "欢迎" not in text and "Welcome" in text


def test_keep_cell_rules():
    def md(text, tag, **meta):
        return nbformat.v4.new_markdown_cell(text, metadata={"tags": [tag], **meta})

    en, zh, any_ = md("Hi", "lang:en"), md("你好", "lang:zh"), md("$x$", "lang:any")
    graded = md("answer", "lang:en", nbgrader={"grade": True, "grade_id": "q"})
    cells = (en, zh, any_, graded, nbformat.v4.new_code_cell("x = 1"))
    assert [keep_cell(c, "zh") for c in cells] == [False, True, True, True, True]
    assert [keep_cell(c, "en") for c in cells] == [True, False, True, True, True]
    assert all(keep_cell(c, "both") for c in cells)
    nb = nbformat.v4.new_notebook(cells=list(cells))
    assert edition_notebook(nb, "zh").cells == [zh, any_, graded, cells[-1]]
    assert len(nb.cells) == 5, "the source notebook is not modified"


def test_bad_lang_is_a_clear_error(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        course(["edition", "--lang", "fr", "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'fr'" in err and all(repr(lang) in err for lang in LANGS)
    with pytest.raises(ValueError, match="choose one of en, zh, both"):
        build_edition("de", out=tmp_path)
    assert not any(tmp_path.iterdir())


def test_an_unreadable_source_is_named(capsys, tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT / RELEASE_DIR, source)
    broken = next(source.rglob("*.ipynb"))
    broken.write_text("{broken", encoding="utf-8")
    args = ["edition", "--lang", "zh", "--source", str(source), "--out", str(tmp_path / "zh")]
    assert course(args) == 1
    assert f"{broken} is not a notebook that can be read" in capsys.readouterr().out


def test_command_builds_and_keeps_a_learners_work(capsys, tmp_path):
    out = tmp_path / "zh"
    assert course(["edition", "--lang", "zh", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "zh edition" in said and "COURSE_LANG=zh" in said
    lesson = RELEASED[0]
    mine = out / lesson_paths(lesson)[1].relative_to(ROOT / RELEASE_DIR)
    mine.write_text(
        mine.read_text(encoding="utf-8").replace("raise NotImplementedError()", "return 1", 1),
        encoding="utf-8",
    )
    work = mine.read_bytes()
    assert course(["edition", "--lang", "zh", "--out", str(out)]) == 0
    assert "kept" in capsys.readouterr().out and mine.read_bytes() == work
    report = build_edition("zh", out=out, force=True)
    assert str(mine.relative_to(out)) in report.written and mine.read_bytes() != work


def test_a_newer_release_replaces_what_the_learner_left_alone(tmp_path):
    """Files still as the edition wrote them follow the course; changed ones are kept."""
    source, out = tmp_path / "release", tmp_path / "zh"
    shutil.copytree(ROOT / RELEASE_DIR, source)
    build_edition("zh", out=out, source=source)
    lesson = RELEASED[0]
    rel = lesson_paths(lesson)[1].relative_to(ROOT / RELEASE_DIR)
    mine = out / rel
    mine.write_text(
        mine.read_text(encoding="utf-8").replace("raise NotImplementedError()", "return 1", 1),
        encoding="utf-8",
    )
    work = mine.read_bytes()
    for path in [source / "START_HERE.ipynb", source / rel]:  # the course moves on
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_markdown_cell("新的一节", metadata={"tags": ["lang:zh"]}))
        nbformat.write(nb, path)
    report = build_edition("zh", out=out, source=source)
    assert report.written == ["START_HERE.ipynb"] and report.kept == [str(rel)]
    assert "新的一节" in (out / "START_HERE.ipynb").read_text(encoding="utf-8")
    assert mine.read_bytes() == work


def test_both_is_the_bilingual_notebook(tmp_path):
    build_edition("both", out=tmp_path)
    for lesson in RELEASED:
        released_path = lesson_paths(lesson)[1]
        copy = tmp_path / released_path.relative_to(ROOT / RELEASE_DIR)
        assert nbformat.read(copy, as_version=4) == nbformat.read(released_path, as_version=4)


@pytest.mark.slow
def test_edition_notebooks_autograde(editions, tmp_path):
    """Real nbgrader: solved zh/en editions get full marks, a blank zh edition gets 0."""
    course_dir = make_course(tmp_path / "course", [LESSON])
    solution_path, released_path = lesson_paths(LESSON)
    rel = released_path.relative_to(ROOT / RELEASE_DIR)
    solution = nbformat.read(solution_path, as_version=4)
    nbgrader(course_dir, "generate_assignment", LESSON, "--force")
    zh, en = read(editions["zh"], rel), read(editions["en"], rel)
    submit(course_dir, "zh_solved", LESSON, fill(zh, solution), solution_path.name)
    submit(course_dir, "en_solved", LESSON, fill(en, solution), solution_path.name)
    submit(course_dir, "zh_blank", LESSON, zh, solution_path.name)
    nbgrader(course_dir, "autograde", LESSON, "--create")
    nbgrader(course_dir, "export", "--to", str(tmp_path / "grades.csv"))
    rows = {
        r["student_id"]: float(r["score"]) for r in csv.DictReader((tmp_path / "grades.csv").open())
    }
    total = sum(points(solution).values())
    assert rows == {"zh_solved": total, "en_solved": total, "zh_blank": 0}
