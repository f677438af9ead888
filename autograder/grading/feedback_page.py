"""The feedback page: nbconvert's HTML export, made for many pages of the same lessons.

- ``HTMLExporter`` renders the page, then parses all of it again with BeautifulSoup
  only to give ``alt`` text to images that have none and ``tabindex`` to the input and
  output areas of JupyterLab-styled pages. That pass was a third of a feedback page's
  time (~0.1 s a submission). :class:`FeedbackExporter` makes the same two changes on
  the tags themselves, and says the missing description in both languages.
- Highlighting code and rendering Markdown were most of the rest, for cells that are the
  same in every learner's copy of a lesson. A worker keeps what it rendered, by the
  cell's source and every setting the result depends on.
- Formulas are MathML, made here (:mod:`autograder.grading.offline_math`): the page loads
  no MathJax and needs no network. The course's template (autograder/templates/
  course_feedback) names each exercise by its title, in both languages, in the page's
  contents list and above its test cell.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from jinja2 import pass_context
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbformat import NotebookNode

from autograder.grading.offline_math import latex_output_to_html, markdown_to_html
from course_utils.i18n import Msg

NO_ALT = "No description has been provided for this image · 此图没有文字说明"

# A start tag; its quoted attribute values may hold ">".
_ATTRIBUTES = r"""(?:[^>"']|"[^"]*"|'[^']*')*"""
_IMG = re.compile(rf"<img\b{_ATTRIBUTES}>", re.IGNORECASE)
_DIV = re.compile(rf"<div\b{_ATTRIBUTES}>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""\s([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?""")
_FOCUSABLE = {"jp-Cell-inputWrapper", "jp-OutputArea-output"}


def _attributes(tag: str) -> dict[str, str]:
    return {name.lower(): value.strip("\"'") for name, value in _ATTRIBUTE.findall(tag[1:-1])}


def _with(tag: str, name: str, value: str) -> str:
    head = re.match(r"<\w+", tag).group(0)
    return f'{head} {name}="{value}"{tag[len(head) :]}'


def _describe(m: re.Match) -> str:
    return m[0] if "alt" in _attributes(m[0]) else _with(m[0], "alt", NO_ALT)


def _focusable(m: re.Match) -> str:
    attributes = _attributes(m[0])
    if "tabindex" in attributes or not _FOCUSABLE & set(attributes.get("class", "").split()):
        return m[0]
    return _with(m[0], "tabindex", "0")


def accessible(page: str) -> str:
    """``alt`` for every image without one; the lab template's input and output areas
    reachable with the keyboard (nbconvert's ``HTMLExporter`` does the same)."""
    page = _IMG.sub(_describe, page)
    if "jp-Notebook" in page:
        page = _DIV.sub(_focusable, page)
    return page


_RENDERED: dict[tuple, str] = {}
_RENDERED_MAX = 4096


def _remember(key: tuple, render: Callable[[], str]) -> str:
    """``render()``, kept by ``key`` (the least recently used go first)."""
    value = _RENDERED.pop(key, None)
    if value is None:
        value = render()
        if len(_RENDERED) >= _RENDERED_MAX:
            del _RENDERED[next(iter(_RENDERED))]
    _RENDERED[key] = value
    return value


class _RememberedHighlight(Highlight2HTML):
    """nbconvert's highlighting; a cell's result depends on its source, the language
    (a cell's ``magics_language`` included) and the formatter options."""

    def __call__(self, source: str, language: str | None = None, metadata: Any = None) -> str:
        key = (
            "code",
            source,
            language or self.pygments_lexer,
            (metadata or {}).get("magics_language"),
            json.dumps(self.extra_formatter_options, sort_keys=True, default=str),
        )
        return _remember(
            key, lambda: super(_RememberedHighlight, self).__call__(source, language, metadata)
        )


class FeedbackExporter(HTMLExporter):
    """``HTMLExporter`` (its configuration too), with the accessibility pass done by
    :func:`accessible` and the code and Markdown it rendered kept for the next pages."""

    def from_notebook_node(  # type: ignore[override]
        self, nb: NotebookNode, resources: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        # What HTMLExporter.from_notebook_node sets up before it renders (nbconvert 7).
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        highlight_code = self.filters.get(
            "highlight_code", _RememberedHighlight(pygments_lexer=lexer, parent=self)
        )
        resources = self._init_resources(resources)
        filter_data_type = WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources
        )
        self.register_filter("highlight_code", highlight_code)
        self.register_filter("filter_data_type", filter_data_type)
        resources["exercise_titles"] = exercise_titles(nb)
        page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return accessible(page), resources

    def default_filters(self):
        yield from super().default_filters()
        yield ("points", points)
        yield (
            "latex_to_mathml",
            lambda latex: _remember(("latex", latex), lambda: latex_output_to_html(latex)),
        )

    @pass_context
    def markdown2html(self, context, source: str) -> str:
        """HTMLExporter's, its formulas as MathML; kept for a cell without attachments when
        no image is embedded from disk (the only inputs besides these settings that could
        differ)."""
        cell = context.get("cell", {})
        path = context.get("resources", {}).get("metadata", {}).get("path", "")

        def render() -> str:
            return markdown_to_html(
                source,
                attachments=cell.get("attachments", {}),
                embed_images=self.embed_images,
                path=path,
                anchor_link_text=self.anchor_link_text,
                exclude_anchor_links=self.exclude_anchor_links,
                **self.lexer_options,
            )

        if cell.get("attachments") or self.embed_images:
            return render()
        key = (
            "markdown",
            source,
            path,
            self.anchor_link_text,
            self.exclude_anchor_links,
            json.dumps(self.lexer_options, sort_keys=True, default=str),
        )
        return _remember(key, render)


def points(value: Any) -> str:
    """A score as the course writes points: 1, 1.5, 0 (nbgrader's own page says 1.0)."""
    try:
        return f"{round(float(value), 2):g}"
    except (TypeError, ValueError):
        return "0"


_HEADING = re.compile(r"^#+\s*(.+?)\s*$", re.M)


def exercise_titles(nb: NotebookNode) -> dict[str, Msg]:
    """The title of each graded cell, by grade id: its exercise's title in the course's
    catalogue (as the class report names it), else the heading above the cell in each
    language, else the grade id."""
    from autograder.grading.preprocessors import expected_checks
    from course_utils.exercises import get

    titles: dict[str, Msg] = {}
    heading = {"en": "", "zh": ""}
    for cell in nb.cells:
        source = cell.get("source", "")
        if cell.get("cell_type") == "markdown":
            found = _HEADING.findall(source)
            if found:
                lang = "zh" if "lang:zh" in cell.get("metadata", {}).get("tags", []) else "en"
                heading[lang] = found[-1]
                if lang == "en":
                    heading["zh"] = ""
        meta = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if not (meta.get("grade") and grade_id):
            continue
        title = None
        if cell.get("cell_type") == "code":
            for exercise, _ in expected_checks(source):
                try:
                    title = get(exercise).title
                except KeyError:
                    continue
                break
        if title is None and heading["en"]:
            title = Msg(heading["en"], heading["zh"] or heading["en"])
        titles[grade_id] = title or Msg(grade_id, grade_id)
    return titles
