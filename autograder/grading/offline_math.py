"""Formulas in the pages the grader writes, as MathML made here: no script, no network.

nbconvert leaves ``$…$`` and ``$$…$$`` in the page for MathJax, which its templates load
from a CDN: offline, or where that CDN is slow, a learner's feedback shows raw TeX.
Chromium, Firefox and Safari draw MathML themselves (MathML Core), so each formula is
converted once, as the page is made, with latex2mathml (pure Python, a fraction of a
millisecond a formula, and kept with the rendered Markdown by the exporter). Shipping
MathJax instead would mean a megabyte of script beside every page that release_feedback
copies to a learner, run again each time a page opens.

A formula latex2mathml cannot convert is shown as its TeX in ``<code>``: a page is never
lost to a formula. What the conversion makes is checked as it is made (MathML elements,
presentation attributes only), since learners write Markdown too.
"""

from __future__ import annotations

import html
import re
from typing import Any
from xml.etree.ElementTree import Element, tostring

from nbconvert.filters.markdown_mistune import (
    IPythonRenderer,
    MarkdownWithMath,
    MathInlineParser,
)

# MathML Core's elements, and the presentation attributes latex2mathml writes. Anything
# else (\href's href, \style's style, \class's class) makes the formula plain TeX.
_ELEMENTS = frozenset(
    "math mrow mi mn mo ms mtext mspace mfrac msqrt mroot mstyle merror mpadded mphantom "
    "msub msup msubsup munder mover munderover mmultiscripts mprescripts none mtable mtr "
    "mtd menclose semantics annotation".split()
)
_ATTRIBUTES = frozenset(
    "display displaystyle scriptlevel mathvariant mathsize mathcolor mathbackground stretchy "
    "fence separator symmetric largeop movablelimits accent accentunder form lspace rspace "
    "minsize maxsize width height depth linethickness numalign denomalign bevelled "
    "columnalign columnlines columnspacing rowalign rowlines rowspacing frame framespacing "
    "equalrows equalcolumns columnspan rowspan notation linebreak voffset".split()
)
NOT_CONVERTED = (
    "This formula could not be drawn: its TeX source · 这个公式无法显示，这里是它的 TeX 源码"
)
# latex2mathml writes characters as entity references in its element text.
_ENTITY = re.compile(r"&amp;(#x?[0-9A-Fa-f]+;)")


class Unsafe(ValueError):
    """The MathML holds an element or attribute outside the allowed sets."""


def _checked(element: Element) -> None:
    for node in element.iter():
        if node.tag not in _ELEMENTS:
            raise Unsafe(node.tag)
        node.attrib.pop("xmlns", None)  # the HTML parser puts <math> in its namespace
        unknown = set(node.attrib) - _ATTRIBUTES
        if unknown:
            raise Unsafe(", ".join(sorted(unknown)))


def fallback(tex: str, display: bool) -> str:
    """The formula as its TeX source, in a ``<code>`` that says it was not converted."""
    marks = "$$" if display else "$"
    return (
        f'<code class="tex-source" title="{NOT_CONVERTED}">'
        f"{html.escape(marks + tex + marks, quote=False)}</code>"
    )


def to_mathml(tex: str, display: bool = False) -> str:
    """``tex`` as a ``<math>`` element, or :func:`fallback` when it does not convert."""
    try:
        from latex2mathml.converter import convert_to_element

        element = convert_to_element(tex.strip(), display="block" if display else "inline")
        _checked(element)
        mathml = tostring(element, encoding="unicode", short_empty_elements=False)
    except Exception:  # a formula latex2mathml cannot read, Unsafe, or no latex2mathml: TeX
        return fallback(tex, display)
    return _ENTITY.sub(r"&\1", mathml)


# The closing "$" of inline maths: right after a non-space character, and not right before
# a digit, as in pandoc, so that "$5 and $10" stays text. A backtick ends the search: "$"
# in a code span is code.
_INLINE_TEX = r"(?<![$\\])\$(?=[^\s$])(?P<math_inline_tex>(?:\\.|[^$`\\])+?)(?<![\s\\])\$(?!\d)"


class _InlineParser(MathInlineParser):
    SPECIFICATION = {**MathInlineParser.SPECIFICATION, "inline_math_tex": f"(?s:{_INLINE_TEX})"}


class MathMLRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer, with every formula as MathML instead of TeX for MathJax."""

    def block_math(self, body: str) -> str:
        return to_mathml(body, display=True)

    def inline_math(self, body: str) -> str:
        return to_mathml(body, display=False)

    def latex_environment(self, name: str, body: str) -> str:
        return to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)

    def multiline_math(self, text: str) -> str:  # mistune 2 only; 3 parses it inline
        return text


def markdown_to_html(source: str, **renderer_options: Any) -> str:
    """Markdown as nbconvert's HTMLExporter renders it, its formulas as MathML."""
    renderer = MathMLRenderer(escape=False, **renderer_options)
    return MarkdownWithMath(renderer=renderer, inline=_InlineParser(hard_wrap=False)).render(source)


_DELIMITED = re.compile(
    r"\s*(?:\$\$(?P<dd>.*)\$\$|\\\[(?P<bracket>.*)\\\]|\$(?P<d>.*)\$|\\\((?P<paren>.*)\\\))\s*",
    re.S,
)


def latex_output_to_html(latex: str) -> str:
    """A ``text/latex`` output (IPython's ``Math``, sympy's ``$\\displaystyle …$``) as MathML."""
    m = _DELIMITED.fullmatch(latex)
    if m is None:
        return to_mathml(latex, display=True)
    inline = m["d"] if m["d"] is not None else m["paren"]
    if inline is not None:
        return to_mathml(inline, display=False)
    return to_mathml(m["dd"] if m["dd"] is not None else m["bracket"], display=True)
