import nbformat

from autograder.authoring.bilingual import check_notebook, check_tree, load_glossary
from autograder.authoring.cells import code, lesson, md, write


def test_the_whole_course_follows_the_convention_and_glossary(root):
    problems = check_tree(root)
    assert problems == [], "\n".join(problems)


def test_glossary_has_the_core_terms():
    terms = {t.en[0]: t for t in load_glossary()}
    assert terms["bias"].zh == ("偏置",) and "偏差" in terms["bias"].avoid
    assert "暗中的" in terms["implicitly"].avoid
    assert terms["vector-Jacobian product"].zh == ("向量-雅可比积",)


def _problems(tmp_path, cells) -> list[str]:
    path = tmp_path / "nb.ipynb"
    write(lesson(cells), path)
    return check_notebook(path)


def test_wrong_terms_are_caught(tmp_path):
    problems = _problems(tmp_path, [md("Weights and biases.", "权重和偏差。")])
    assert any("偏差" in p for p in problems)
    problems = _problems(tmp_path, [md("Call backward implicitly.", "暗中的调用 backward。")])
    assert any("暗中的" in p for p in problems)


def test_inconsistent_term_is_caught(tmp_path):
    problems = _problems(tmp_path, [md("Set the learning rate.", "设置步长。")])
    assert any("learning rate" in p for p in problems)


def test_missing_twin_and_untagged_cells_are_caught(tmp_path):
    cells = md("One.", "一。")
    cells.pop()
    untagged = [nbformat.v4.new_markdown_cell("no tag")]
    problems = _problems(tmp_path, [cells, code("x = 1"), untagged])
    assert any("Chinese twin" in p for p in problems)
    assert any("exactly one of" in p for p in problems)


def test_english_cell_with_chinese_is_caught(tmp_path):
    problems = _problems(tmp_path, [md("梯度 gradient", "梯度")])
    assert any("Chinese text in an English cell" in p for p in problems)
