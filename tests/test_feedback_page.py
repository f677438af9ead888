"""The feedback exporter gives the page nbconvert's HTMLExporter gives, without its
BeautifulSoup pass: same document, images described in both languages."""

from __future__ import annotations

import base64
import copy

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert.exporters import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from traitlets.config import Config

from autograder.grading.feedback_page import NO_ALT, FeedbackExporter, accessible

STOCK_ALT = "No description has been provided for this image"
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
    stock, _ = HTMLExporter(config=config).from_notebook_node(copy.deepcopy(nb))
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
    stock, _ = HTMLExporter(config=config).from_notebook_node(copy.deepcopy(nb))
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
