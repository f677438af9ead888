"""The feedback page: nbconvert's HTML export without its second pass over the page.

``HTMLExporter`` renders the page, then parses all of it again with BeautifulSoup
only to give ``alt`` text to images that have none and ``tabindex`` to the input and
output areas of JupyterLab-styled pages. That pass is a third of a feedback page's
time (~0.1 s a submission). :class:`FeedbackExporter` makes the same two changes on
the tags themselves, and says the missing description in both languages.
"""

from __future__ import annotations

import re
from typing import Any

from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbformat import NotebookNode

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


class FeedbackExporter(HTMLExporter):
    """``HTMLExporter`` (its configuration too), the accessibility pass done by :func:`accessible`."""

    def from_notebook_node(  # type: ignore[override]
        self, nb: NotebookNode, resources: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        # What HTMLExporter.from_notebook_node sets up before it renders (nbconvert 7).
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        highlight_code = self.filters.get(
            "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)
        )
        resources = self._init_resources(resources)
        filter_data_type = WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources
        )
        self.register_filter("highlight_code", highlight_code)
        self.register_filter("filter_data_type", filter_data_type)
        page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return accessible(page), resources
