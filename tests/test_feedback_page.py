"""The feedback exporter gives the page nbconvert's HTMLExporter gives, without its
BeautifulSoup pass: same document, images described in both languages, formulas as
MathML. The course's page needs no network and names each exercise by its title."""

from __future__ import annotations

import base64
import copy
import re

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert.exporters import HTMLExporter
from nbconvert.filters import markdown_mistune as markdown
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from traitlets.config import Config

from autograder.config import ROOT, course_config
from autograder.config import SOURCE_DIR as SOLUTIONS
from autograder.grading.feedback_page import NO_ALT, FeedbackExporter, accessible
from autograder.grading.offline_math import to_mathml

STOCK_ALT = "No description has been provided for this image"
FORMULA = "x^2"  # notebook()'s, which MathJax would typeset from the stock page


def stock_page(exporter: HTMLExporter, nb: nbformat.NotebookNode) -> str:
    """The stock page, its formula as the feedback exporter makes it."""
    page, _ = exporter.from_notebook_node(copy.deepcopy(nb))
    assert page.count(f"${FORMULA}$") == 1
    return page.replace(f"${FORMULA}$", to_mathml(FORMULA))


PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


def notebook() -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            new_markdown_cell("## Gradients · 梯度\n\nSome $x^2$ and `code`."),
            new_markdown_cell(
                'A plot <img src=\'a.png\'> and <IMG SRC="b.png" ALT="x > y"> and '
                '<img alt src="c.png"> and `<img src="code.png">` in code.'
            ),
            new_code_cell(
                "plot()",
                outputs=[
                    new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
                    new_output("stream", name="stdout", text="<img src='escaped.png'>\n"),
                ],
                execution_count=1,
            ),
            new_code_cell("x = 1", execution_count=2),
        ],
        metadata={"language_info": {"name": "python", "pygments_lexer": "ipython3"}},
    )


@pytest.mark.parametrize("template", ["lab", "classic"])
def test_the_page_is_the_stock_page(template: str) -> None:
    config = Config()
    config.HTMLExporter.template_name = template
    nb = notebook()
    stock = stock_page(HTMLExporter(config=config), nb)
    # Twice: the second page is made of what the first one rendered.
    for _ in range(2):
        ours, _ = FeedbackExporter(config=config).from_notebook_node(copy.deepcopy(nb))
        assert ours.count(NO_ALT) == stock.count(STOCK_ALT) == 2
        same = BeautifulSoup(ours.replace(NO_ALT, STOCK_ALT), features="html.parser")
        assert str(same) == str(BeautifulSoup(stock, features="html.parser"))
    if template == "lab":
        assert str(same).count('tabindex="0"') >= 4  # two inputs, two outputs at least


def test_what_differs_between_pages_is_rendered_again() -> None:
    """Kept renderings are keyed by everything they depend on: the source, the language,
    the settings, and never used for a cell with attachments."""
    nb = notebook()
    nb.cells.append(
        new_markdown_cell("![plot](attachment:p.png)", attachments={"p.png": {"image/png": PNG}})
    )
    first, _ = FeedbackExporter().from_notebook_node(copy.deepcopy(nb))
    nb.cells[1].source = nb.cells[1].source.replace("A plot", "Another plot")
    nb.cells[2].source = "plot(2)"
    nb.cells[-1].attachments["p.png"]["image/png"] = PNG[:-8] + "AAAAAAA="
    config = Config()
    config.HTMLExporter.anchor_link_text = "#"
    second, _ = FeedbackExporter(config=config).from_notebook_node(copy.deepcopy(nb))
    stock = stock_page(HTMLExporter(config=config), nb)
    assert "Another plot" in second and "plot(2)" not in first
    assert "&#182;</a>" in first and "&#182;</a>" not in second and "#</a>" in second
    assert str(BeautifulSoup(second.replace(NO_ALT, STOCK_ALT), features="html.parser")) == str(
        BeautifulSoup(stock, features="html.parser")
    )


def test_only_tags_without_the_attribute_change() -> None:
    page = (
        '<img src="a"><img alt="" src="b"><img data-alt="1" src=c>'
        '<div class="jp-Notebook"><div class="jp-Cell-inputWrapper" tabindex="-1"></div>'
        '<div class="x jp-OutputArea-output"></div><div class="jp-OutputArea-output-x"></div></div>'
    )
    assert accessible(page) == (
        f'<img alt="{NO_ALT}" src="a"><img alt="" src="b"><img alt="{NO_ALT}" data-alt="1" src=c>'
        '<div class="jp-Notebook"><div class="jp-Cell-inputWrapper" tabindex="-1"></div>'
        '<div tabindex="0" class="x jp-OutputArea-output"></div>'
        '<div class="jp-OutputArea-output-x"></div></div>'
    )


def test_the_course_feedback_uses_it() -> None:
    from nbgrader.converters import GenerateFeedback

    from autograder.config import course_config

    assert GenerateFeedback(config=course_config()).exporter_class is FeedbackExporter


# ------------------------------------------------- the course's page: offline maths, titles

LESSON = ROOT / SOLUTIONS / "02_derivatives" / "02_derivatives.ipynb"
DOLLARS = (
    "Costs $5 and $10 a month; `price = $5` and `f'${x}$'` are code.\n\n"
    "```python\nlabel = '$a$'  # $$ not maths $$\n```"
)


def course_exporter() -> FeedbackExporter:
    """The exporter as `course grade`'s GenerateFeedback makes it (template, paths)."""
    from nbgrader.converters import GenerateFeedback

    converter = GenerateFeedback(config=course_config())
    return converter.exporter_class(parent=converter, config=converter.config)


def graded_lesson(wrong: str = "dq_db_tests") -> tuple[nbformat.NotebookNode, dict]:
    """Lesson 2 as GetGrades leaves it for the page: every test cell's score (``wrong``
    earns nothing), the notebook's total, and a cell with dollars that are not maths."""
    nb = nbformat.read(LESSON, as_version=4)
    total = earned = 0.0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            meta["score"] = 0.0 if meta["grade_id"] == wrong else float(meta["points"])
            total += float(meta["points"])
            earned += meta["score"]
    nb.cells.insert(2, new_markdown_cell(DOLLARS, metadata={"tags": ["lang:any"]}))
    grades = {"notebook": LESSON.stem, "score": earned, "max_score": total, "late_penalty": 0}
    return nb, {"nbgrader": grades}


def course_page() -> str:
    nb, resources = graded_lesson()
    page, _ = course_exporter().from_notebook_node(nb, resources)
    return page


def expected_contents() -> list[str]:
    """Each graded cell of lesson 2 as its contents line: title in both languages, points."""
    from autograder.grading.preprocessors import expected_checks
    from course_utils.exercises import get

    lines = []
    for cell in nbformat.read(LESSON, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            (exercise, _), *_ = expected_checks(cell.source)
            title = get(exercise).title
            score = 0 if meta["grade_id"] == "dq_db_tests" else meta["points"]
            lines.append(f"{title.en} · {title.zh} (Score · 得分: {score:g} / {meta['points']:g})")
    return lines


def test_the_course_page_needs_no_network_and_shows_its_formulas_as_mathml() -> None:
    page = course_page()
    soup = BeautifulSoup(page, features="html.parser")
    remote = [
        tag
        for tag in soup.find_all(["script", "link", "img", "iframe"])
        if re.match(r"\s*(https?:)?//", tag.get("src", "") + tag.get("href", ""))
    ]
    assert remote == [] and "cdnjs" not in page
    assert soup.find_all("script") == []  # no MathJax: nothing to run, nothing to load
    # Lesson 2's two formulas, as MathML, and no TeX left for a script to typeset.
    shown = [m for m in soup.find_all("math") if m["display"] == "block"]
    assert len(shown) == 2 and shown[1].find("mfrac") is not None
    text = soup.find(id="notebook").get_text()
    assert "∂" in shown[1].get_text() and r"\frac" not in text and "3a^3" not in text
    # Dollars in prose that is not maths, in code spans and in code blocks stay as written.
    dollars = soup.find(string=re.compile("Costs")).parent
    assert dollars.get_text() == "Costs $5 and $10 a month; price = $5 and f'${x}$' are code."
    assert [c.get_text() for c in dollars.find_all("code")] == ["price = $5", "f'${x}$'"]
    block = soup.find(string=re.compile(r"\$\$ not maths \$\$")).find_parent("pre")
    assert block.get_text() == "label = '$a$'  # $$ not maths $$\n"
    assert dollars.find("math") is None and block.find("math") is None


def test_the_contents_list_names_each_exercise_with_its_points() -> None:
    soup = BeautifulSoup(course_page(), features="html.parser")
    contents = soup.find(id="toc")
    lines = [re.sub(r"\s+", " ", li.get_text()).strip() for li in contents.find_all("li")]
    assert lines == expected_contents()
    assert "Test cell" not in contents.get_text()
    # Each entry leads to its test cell, whose heading says the same title.
    for link in contents.find_all("a"):
        anchor = soup.find("a", attrs={"name": link["href"][1:]})
        heading = anchor.find_next(class_="nbgrader-label").get_text()
        assert heading.startswith(link.get_text()), (heading, link.get_text())


def test_a_formula_that_does_not_convert_is_shown_as_its_tex() -> None:
    """A learner's broken or active TeX never stops a page: it is shown as code."""
    nb, resources = graded_lesson()
    broken = r"Mine: $x^$, $\href{javascript:alert(1)}{x}$ and $\text{<b>}$."
    nb.cells.insert(3, new_markdown_cell(broken, metadata={"tags": ["lang:any"]}))
    page, _ = course_exporter().from_notebook_node(nb, resources)
    cell = BeautifulSoup(page, features="html.parser").find(string=re.compile("Mine")).parent
    assert [c.get_text() for c in cell.find_all("code")] == [
        "$x^$",
        r"$\href{javascript:alert(1)}{x}$",
    ]
    assert "href" not in str(cell.find("math")) and cell.find("b") is None
    assert cell.find("math").get_text() == "<b>"


def test_every_lesson_formula_converts() -> None:
    """The lessons' formulas, as the page finds them in their Markdown, all become MathML."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer

    from autograder.grading.offline_math import markdown_to_html

    found: list[tuple[str, bool]] = []

    class Formulas(IPythonRenderer):
        def block_math(self, body: str) -> str:
            found.append((body, True))
            return ""

        def inline_math(self, body: str) -> str:
            found.append((body, False))
            return ""

    for path in sorted((ROOT / SOLUTIONS).glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                markdown_to_html(cell.source)  # raises nothing
                markdown.MarkdownWithMath(renderer=Formulas(escape=False)).render(cell.source)
    assert len(found) >= 20
    failed = [tex for tex, display in found if not to_mathml(tex, display).startswith("<math")]
    assert failed == []


def test_latex_outputs_are_mathml_too() -> None:
    nb, resources = graded_lesson()
    sympy = new_output(
        "display_data", data={"text/latex": r"$\displaystyle \frac{a}{b}$", "text/plain": "a/b"}
    )
    nb.cells.append(new_code_cell("show()", outputs=[sympy], execution_count=3))
    page, _ = course_exporter().from_notebook_node(nb, resources)
    output = BeautifulSoup(page, features="html.parser").find(class_="output_latex")
    assert output.find("math").find("mfrac") is not None and "$" not in output.get_text()
