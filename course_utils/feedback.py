"""A check's verdict as a small HTML block in JupyterLab, with the plain text kept beside it.

A check's message (:class:`~course_utils.i18n.Msg`) is, in each language: the verdict on its
first line (``✗ <title>: <the recognised mistake>`` or ``✓ <title>: …``), the detail below it
(the numbers, the inputs by name), and last the hint (``Hint: …``, ``Hint 2/3: …``, as
:func:`course_utils.exercises.hint_of` labels it). :func:`block` lays these out as HTML: the
verdict prominent, the detail under it, the hint in a ``<details>`` closed by default, each
language once (``COURSE_LANG``). Every piece of text is escaped: a learner's names and values
go into it.

In a notebook kernel a check displays one bundle, ``text/html`` (the block) and ``text/plain``
(the very text a terminal, nbval and the grader read), and a failure's traceback then says
one line that says the check did not pass
(:meth:`~course_utils.checks.CheckFailure._render_traceback_`): the text is not shown twice. Under nbgrader's Validate, which reads a failing cell's traceback as text, the
traceback is the verdict line alone: the exercise's title and one line per language.
"""

from __future__ import annotations

import html
import os
import re
import textwrap
from dataclasses import dataclass

from course_utils.i18n import Msg, current_lang

# nbgrader sets it while Validate runs the notebook; the kernel it starts inherits it.
VALIDATING_ENV = "NBGRADER_VALIDATING"
# How hint_of labels a hint in each language: "Hint: ", "Hint 2/3: ", "提示：", "提示 2/3：".
_HINT_LABELS = (r"^Hint(?: \d+/\d+)?: ", r"^提示(?: \d+/\d+)?：")
HINT_LABEL = {lang: re.compile(p) for lang, p in zip(("en", "zh"), _HINT_LABELS, strict=True)}
VERDICT_SEP = {"en": ": ", "zh": "："}

# JupyterLab's theme variables, so the block reads in the light and the dark theme alike;
# the fallbacks are the light theme's, for a page without them.
_COLOR = {
    True: "var(--jp-success-color1, #388e3c)",
    False: "var(--jp-error-color1, #d32f2f)",
}
_BOX = (
    "border-left: 4px solid {color}; padding: 4px 10px; margin: 2px 0; "
    "background: var(--jp-layout-color1, #fff); color: var(--jp-content-font-color1, #000); "
    "font-family: var(--jp-content-font-family, sans-serif); "
    "font-size: var(--jp-content-font-size1, 14px); line-height: 1.45"
)
_VERDICT = "font-weight: 600; margin: 2px 0"
_DETAIL = (
    "margin: 2px 0 2px 1.2em; white-space: pre-wrap; "
    "color: var(--jp-content-font-color2, #424242); font-size: var(--jp-ui-font-size1, 13px)"
)
_GRID = "display: grid; grid-template-columns: auto auto; column-gap: 2em; justify-content: start"
_TRACEBACK = (
    "margin: 4px 0 2px 1.2em; padding: 2px 6px; white-space: pre-wrap; "
    "font-family: var(--jp-code-font-family, monospace); font-size: var(--jp-code-font-size, 13px); "
    "background: var(--jp-layout-color2, #eee); color: var(--jp-content-font-color1, #000)"
)
_SUMMARY = "cursor: pointer; color: var(--jp-content-font-color2, #616161); font-weight: 600"
_HINT = "margin: 2px 0 2px 1.2em"


@dataclass(frozen=True)
class Parts:
    """One language's message cut into what the block shows apart."""

    mark: str  # "✓", "✗" or ""
    title: str  # the exercise's title, "" when the verdict line names none
    verdict: str  # the rest of the first line
    detail: list[str]
    hint_label: str
    hint: list[str]


def parts(text: str, lang: str) -> Parts:
    """Cut ``text`` (one language of a check's message) into verdict, detail and hint."""
    lines = text.splitlines() or [""]
    first, rest = lines[0], lines[1:]
    mark = next((m for m in ("✓", "✗") if first.startswith(m)), "")
    first = first[len(mark) :].strip()
    title, sep, verdict = first.partition(VERDICT_SEP[lang])
    if not sep:
        title, verdict = "", first
    at = next((i for i, line in enumerate(rest) if HINT_LABEL[lang].match(line)), len(rest))
    detail, hint = rest[:at], rest[at:]
    label = ""
    if hint:
        found = HINT_LABEL[lang].match(hint[0])
        label = found.group(0).rstrip(": ：")
        hint = [hint[0][found.end() :], *hint[1:]]
    # The detail's own nesting kept (a listing under its summary), its common indent dropped.
    detail = textwrap.dedent("\n".join(detail)).splitlines()
    return Parts(mark, title, verdict, [d.rstrip() for d in detail], label, hint)


def _langs(lang: str | None) -> list[str]:
    lang = lang or current_lang()
    return ["en", "zh"] if lang == "both" else [lang]


def _text(s: str) -> str:
    """Escaped, and otherwise as the plain text has it (`code` keeps its backticks)."""
    return html.escape(s)


def _verdict_line(p: Parts, lang: str, ok: bool) -> str:
    mark = f'<span style="color: {_COLOR[ok]}">{html.escape(p.mark or ("✓" if ok else "✗"))}</span>'
    title = f"<strong>{_text(p.title)}</strong>{VERDICT_SEP[lang]}" if p.title else ""
    return f'<div lang="{lang}" style="{_VERDICT}">{mark} {title}{_text(p.verdict)}</div>'


def _detail(by_lang: dict[str, Parts]) -> str:
    """The detail lines, each language once: in two languages, side by side, line by line
    (the numbers are the same in both), when the two match up; else one after the other."""
    langs = list(by_lang)
    lists = [by_lang[lg].detail for lg in langs]
    if not any(lists):
        return ""
    if len(langs) == 2 and len(lists[0]) == len(lists[1]):
        cells = "".join(
            f'<div lang="en">{_text(en)}</div><div lang="zh">{_text(zh)}</div>'
            for en, zh in zip(*lists, strict=True)
        )
        return f'<div class="course-feedback-detail" style="{_DETAIL}; {_GRID}">{cells}</div>'
    body = "".join(
        f'<div lang="{lg}">{_text(line)}</div>'
        for lg, lines in zip(langs, lists, strict=True)
        for line in lines
    )
    return f'<div class="course-feedback-detail" style="{_DETAIL}">{body}</div>'


def _hint(by_lang: dict[str, Parts]) -> str:
    with_hint = {lg: p for lg, p in by_lang.items() if p.hint}
    if not with_hint:
        return ""
    summary = " · ".join(html.escape(p.hint_label) for p in with_hint.values())
    body = "".join(
        f'<div lang="{lg}" style="{_HINT}">{"<br>".join(_text(line) for line in p.hint)}</div>'
        for lg, p in with_hint.items()
    )
    return (
        f'<details class="course-feedback-hint"><summary style="{_SUMMARY}">{summary}</summary>'
        f"{body}</details>"
    )


def block(msg: Msg, ok: bool, lang: str | None = None, traceback: list[str] = ()) -> str:
    """The HTML block of a check's message (``ok``: the verdict is right), every text escaped.

    ``traceback``: the learner's own frames, when their function raised (shown as code)."""
    langs = _langs(lang)
    by_lang = {lg: parts(msg.render(lg), lg) for lg in langs}
    if len(langs) == 2 and msg.en == msg.zh:  # one text for both (Msg.render says it once)
        by_lang = {"en": by_lang["en"]}
    verdicts = "".join(_verdict_line(p, lg, ok) for lg, p in by_lang.items())
    tb = ""
    if traceback:
        tb = f'<pre class="course-feedback-traceback" style="{_TRACEBACK}">'
        tb += html.escape("\n".join(traceback)) + "</pre>"
    kind = "right" if ok else "wrong"
    return (
        f'<div class="course-feedback course-feedback-{kind}" role="status" '
        f'style="{_BOX.format(color=_COLOR[ok])}">'
        f'<div class="course-feedback-verdict">{verdicts}</div>'
        f"{_detail(by_lang)}{tb}{_hint(by_lang)}</div>"
    )


def bundle(msg: Msg, ok: bool, plain: str, lang: str | None = None, traceback=()) -> dict:
    """What a kernel displays: the block, and ``plain`` (the text everyone else reads)."""
    return {"text/plain": plain, "text/html": block(msg, ok, lang, list(traceback))}


def validating() -> bool:
    """Whether nbgrader's Validate runs this kernel (it reads failing cells as text)."""
    return os.environ.get(VALIDATING_ENV) == "1"


def in_notebook() -> bool:
    """Whether this runs in a notebook kernel that can show HTML (not Validate, not a terminal)."""
    if validating():
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _display(data: dict) -> None:
    from IPython.display import display

    display(data, raw=True)


def show_right(msg: Msg) -> None:
    """A right answer's verdict: the block in a notebook, the text elsewhere (as ``say``)."""
    text = msg.render()
    if in_notebook():
        _display(bundle(msg, True, text))
    else:
        print(text)


def verdict_lines(msg: Msg, lang: str | None = None) -> list[str]:
    """The verdict line of each language (once when both say the same): what Validate shows."""
    return list(dict.fromkeys((msg.render(lg).splitlines() or [""])[0] for lg in _langs(lang)))


def show_wrong(failure) -> None:
    """Display a :class:`~course_utils.checks.CheckFailure` as the block, in a notebook; its
    traceback then says only that the check did not pass. Elsewhere nothing is displayed: the
    traceback says it all."""
    if not in_notebook():
        return
    plain = "\n".join(failure.full_traceback())
    _display(bundle(failure.msg, False, plain, traceback=failure.learner_frames()))
    failure.shown = True
