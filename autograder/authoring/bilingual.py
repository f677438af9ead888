"""Check the bilingual convention (docs/BILINGUAL.md) and the glossary (docs/glossary.tsv).

Problems are returned as strings "path: cell N: what is wrong" so a test or the
``course check`` command can print them all at once. The rules are meant to be hard to
dodge: a glossary term is found in every inflection (``leaves``, ``gradients``,
``freezing``), twin cells must have the same headings, a ``lang:any`` cell may hold no
words, a link to a lesson must use that lesson's title, and a code span that looks like
an expression must be Python.
"""

from __future__ import annotations

import ast
import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import nbformat

from autograder.config import ROOT

LANG_TAGS = ("lang:en", "lang:zh", "lang:any")
GLOSSARY = ROOT / "docs" / "glossary.tsv"
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
INLINE_CODE = re.compile(r"`[^`]*`|\$\$.*?\$\$|\$[^$]*\$", re.S)
FENCED = re.compile(r"```.*?```", re.S)
CODE_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
HEADING = re.compile(r"^(#{1,6})\s+(.*)$", re.M)
LESSON_LINK = re.compile(r"\[([^\]]+)\]\(((?:\.\./)?(\d\d_\w+)/[\w.]+\.ipynb)\)")
MATHS = re.compile(r"\$\$.*?\$\$|\$[^$]*\$", re.S)
TEXT_IN_MATHS = re.compile(
    r"\\(?:text|textrm|textbf|textit|mathrm|mbox|operatorname)\s*\{([^}]*)\}"
)
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# Chinese characters and punctuation (、。「」，：（）“” …): a line break beside one shows as a space.
CJK_CHAR = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef“”‘’…—]")
# A line that starts a block of its own (heading, list item, table row, fence, display maths,
# quote, HTML, rule): the line break before it ends a paragraph rather than wrapping one.
BLOCK_START = re.compile(
    r"^\s*(?:#{1,6}(?:\s|$)|[-*+]\s|\d+[.)]\s|\||>|<|```|~~~|\$\$|(?:[-*_=]\s*){3,}$)"
)
# A shell command run with an environment variable set: code, though not Python.
SHELL_COMMAND = re.compile(r"(?:[A-Z_][A-Z0-9_]*=\S*\s+)+[\w./-]+(?:\s+[\w./=-]+)*")
# Casual words a teacher would not write (docs/BILINGUAL.md, "Register").
SLANG = ("坑", "盯住", "无米下炊", "剪下来", "剪下", "闭嘴", "肇事")
# Up and down are ambiguous in a network (drawn top-down or bottom-up): name the direction by
# the forward pass instead (docs/BILINGUAL.md, Register).
DIRECTION_WORDS = ("往下传", "往上传", "上一层", "下一层")
# 「小了 3 倍」 is wrong by Chinese editorial norms and 「大了 3 倍」 ambiguous (3× or 4×?).
TIMES_OFF = re.compile(r"[大小]了\s*(?:\d+|[一二两三四五六七八九十百几]+|[A-Za-z]|\{[^}]*\})\s*倍")
# Operators named on their own in a code span (`+`, `**`, `==`): not expressions.
OPERATOR_TOKENS = {
    *"+ - * / % @ = < > & | ^ ~".split(),
    *"** // == != <= >= += -= *= /= @= -> :=".split(),
}
# Irregular English forms the suffix rules below do not produce.
IRREGULAR = {
    "freeze": ("froze", "frozen"),
    "frozen": ("freeze", "freezes", "freezing", "froze"),
    "leaf": ("leaves",),
    "leaves": ("leaf",),
    "child": ("children",),
}


# Glossary words that are verbs: they are matched with -ed and -ing too. Nouns get only
# their plurals, so "weight" does not catch "a weighted sum".
VERBS = {
    "accumulate",
    "backpropagate",
    "deposit",
    "detach",
    "differentiate",
    "fine-tune",
    "finetune",
    "freeze",
    "log",
    "reset",
    "store",
    "track",
    "tune",
}
# Verbs stressed on the first syllable keep a single final consonant (deposited, not depositted).
UNDOUBLED = {"deposit"}


def inflections(word: str) -> set[str]:
    """A word and its plural (and, for a verb, -ed/-ing) forms: gradients, passes, leaves, frozen."""
    w = word.lower()
    forms = {w}
    if re.search(r"(s|x|z|ch|sh)$", w):
        forms.add(w + "es")
    elif re.search(r"[^aeiou]y$", w):
        forms.add(w[:-1] + "ies")
    else:
        forms.add(w + "s")
    if w.endswith("f"):
        forms.add(w[:-1] + "ves")
    if w.endswith("fe"):
        forms.add(w[:-2] + "ves")
    if w in VERBS:
        if w.endswith("e"):
            forms |= {w + "d", (w if w.endswith("ee") else w[:-1]) + "ing"}
        elif re.search(r"(^|[^aeiou])[aeiou][bdgmnpt]$", w) and w not in UNDOUBLED:
            forms |= {w + w[-1] + "ed", w + w[-1] + "ing"}  # log -> logged, reset -> resetting
        else:
            forms |= {w + "ed", w + "ing"}
    forms |= set(IRREGULAR.get(w, ()))
    return forms


@dataclass(frozen=True)
class Term:
    en: tuple[str, ...]
    zh: tuple[str, ...]
    avoid: tuple[str, ...]

    @property
    def pattern(self) -> re.Pattern[str]:
        return _pattern(self.en)

    def mentioned_in(self, english: str) -> bool:
        """Whether the English text uses the term in any inflection of its last word."""
        return bool(self.pattern.search(english))


@cache
def _pattern(variants: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = []
    for v in variants:
        head, _, last = v.rpartition(" ")
        prefix = "" if not head else re.escape(head).replace(r"\ ", r"[\s-]+") + r"[\s-]+"
        # "vector-Jacobian product" and "fine-tuning": inflect after the last hyphen too.
        stem_head, dash, stem = last.rpartition("-")
        lead = re.escape(stem_head + dash)
        forms = sorted(inflections(stem), key=len, reverse=True)
        alternatives.append(prefix + lead + "(?:" + "|".join(map(re.escape, forms)) + ")")
    return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])", re.I)


def load_glossary(path: Path = GLOSSARY) -> list[Term]:
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    split = lambda s: tuple(x.strip() for x in (s or "").split("|") if x.strip())  # noqa: E731
    return [Term(split(r["en"]), split(r["zh"]), split(r["avoid"])) for r in rows]


def lang_of(cell) -> str | None:
    tags = [t for t in cell.get("metadata", {}).get("tags", []) if t in LANG_TAGS]
    return tags[0] if len(tags) == 1 else None


def prose(text: str) -> str:
    """Markdown without code and maths, where terms are judged."""
    return INLINE_CODE.sub(" ", FENCED.sub(" ", text))


def headings(text: str) -> list[tuple[int, tuple[str, ...]]]:
    """(level, numbers) of every heading outside code: ``## 2. Data`` -> (2, ("2",))."""
    out = []
    for hashes, title in HEADING.findall(FENCED.sub(" ", text)):
        out.append((len(hashes), tuple(re.findall(r"\d+", INLINE_CODE.sub(" ", title)))))
    return out


def heading_problems(en: str, zh: str) -> list[str]:
    a, b = headings(en), headings(zh)
    if a == b:
        return []
    show = lambda hs: ", ".join("#" * n + (" " + ".".join(d) if d else "") for n, d in hs) or "none"  # noqa: E731
    return [f"headings differ from the Chinese twin: en has {show(a)}, zh has {show(b)}"]


def bad_code_spans(text: str) -> list[str]:
    """Code spans that look like an expression (an operator between operands) but are not Python."""
    bad = []
    for span in CODE_SPAN.findall(FENCED.sub(" ", text)):
        s = span.strip()
        if s in OPERATOR_TOKENS or re.fullmatch(r"\w+=", s):  # `+`, `**`, `gradient=`
            continue
        if SHELL_COMMAND.fullmatch(s):  # `COURSE_LANG=zh make lab`
            continue
        looks_like_code = re.search(r"[−×÷²³⁰¹⁴-⁹…]", s) or re.search(r"\S\s*[-+*/@=<>]", s)
        if not looks_like_code:
            continue
        if not _parses(s):
            bad.append(span)
    return bad


def _parses(code: str) -> bool:
    for candidate in (code, code + "\n    pass"):
        try:
            ast.parse(candidate)
        except SyntaxError:
            continue
        return True
    return False


def words_in_shared_cell(text: str) -> list[str]:
    """Words in a lang:any cell: anything outside maths, or prose inside ``\\text{}``.

    One token in ``\\text{lr}`` or ``\\mathrm{rel}`` is a symbol's name; ``\\text{first step:}``
    (two words, or punctuation) and any Chinese are prose that one edition would not translate.
    """
    found = []
    outside = MATHS.sub(" ", FENCED.sub(" ", text))
    outside = re.sub(r"!\[[^\]]*\]\([^)]*\)|<img[^>]*>", " ", outside)  # pictures
    found += CJK.findall(outside) + LATIN_WORD.findall(outside)
    for maths in MATHS.findall(text):
        for inner in TEXT_IN_MATHS.findall(maths):
            inner = re.sub(r"\\[ ,;:!]|\\q?quad|~", " ", inner).strip()
            if CJK.search(inner) or (LATIN_WORD.search(inner) and not re.fullmatch(r"\w+", inner)):
                found.append(inner)
    return found


def symbols(cells) -> set[str]:
    """Names the lesson's shared formula cells give to quantities (``\\text{error}``)."""
    names: set[str] = set()
    for cell in cells:
        if cell.cell_type == "markdown" and lang_of(cell) == "lang:any":
            for maths in MATHS.findall(cell.source):
                names |= {
                    s.strip()
                    for s in TEXT_IN_MATHS.findall(maths)
                    if re.fullmatch(r"\s*[A-Za-z]{3,}\s*", s)
                }
    return names


def without_symbols(text: str, names: set[str]) -> str:
    """English text with the formula symbols blanked where they stand in maths (``∂error/∂a``)."""
    for name in names:
        text = re.sub(
            rf"(?<=[∂→=+−*/·Σ(])\s*{re.escape(name)}\b|\b{re.escape(name)}(?=\s*[=/·])",
            " ",
            text,
        )
    return text


def lesson_title(path: Path, lang: str) -> str | None:
    """The first ``# `` heading of a lesson notebook in one language."""
    try:
        nb = _read(path)
    except Exception:
        return None
    for cell in nb.cells:
        if cell.cell_type == "markdown" and lang_of(cell) == f"lang:{lang}":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return None


@cache
def _read_cached(path: Path, mtime: float) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _read(path: Path) -> nbformat.NotebookNode:
    return _read_cached(path, path.stat().st_mtime)


def link_problems(text: str, lang: str, here: Path) -> list[str]:
    """A link to a lesson says its title, or only its label (``Lesson 4``, ``第 4 课``)."""
    problems = []
    for label, target, _lesson in LESSON_LINK.findall(text):
        title = lesson_title((here.parent / target).resolve(), lang)
        if title is None:
            problems.append(f"links to {target}, which is not a lesson with a {lang} title")
            continue
        short = title.split(" · ")[0]
        if label.strip().casefold() not in (title.casefold(), short.casefold()):
            problems.append(f"link text '{label}' is not the title of {target}: '{title}'")
    return problems


def soft_breaks(text: str) -> list[int]:
    """Lines ``i`` that wrap onto line ``i + 1`` inside one paragraph or list item.

    Markdown renders such a line break as a space. A blank line, the start of a heading, list
    item, table row, fence, ``$$`` block, quote or HTML, and a hard break (two trailing spaces
    or a backslash) are not soft breaks, and nothing inside a fence or a ``$$`` block is.
    """
    lines = text.split("\n")
    found = []
    fence = maths = False
    for i, line in enumerate(lines):
        s = line.strip()
        if fence:
            fence = not s.startswith(("```", "~~~"))
            continue
        if maths:
            maths = "$$" not in s
            continue
        if s.startswith(("```", "~~~")):
            fence = True
            continue
        if s.startswith("$$"):
            maths = s.count("$$") == 1
            continue
        if not s or s.startswith(("|", "<")) or re.match(r"#{1,6}(\s|$)", s):
            continue
        if line.endswith(("  ", "\\")) or i + 1 == len(lines):
            continue
        following = lines[i + 1]
        if following.strip() and not BLOCK_START.match(following):
            found.append(i)
    return found


def chinese_line_breaks(text: str) -> list[str]:
    """Line breaks inside a paragraph beside Chinese (``输入。⏎写成``), where they show as a space.

    A break between two English words or code spans is an ordinary space and is not reported.
    """
    lines = text.split("\n")
    found = []
    for i in soft_breaks(text):
        before, after = lines[i].rstrip(), lines[i + 1].lstrip()
        if CJK_CHAR.match(before[-1:]) or CJK_CHAR.match(after[:1]):
            found.append(f"{before[-12:]}⏎{after[:12]}")
    return found


def check_notebook(path: Path, glossary: list[Term] | None = None) -> list[str]:
    glossary = load_glossary() if glossary is None else glossary
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:
        return [f"{path}: cannot be read as a notebook ({exc})"]
    problems: list[str] = []
    cells = nb.cells
    names = symbols(cells)
    for i, cell in enumerate(cells):
        grading = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and grading.get("solution") and not grading.get("grade"):
            problems += [
                f"{path}: cell {i}: {p}" for p in answer_comment_problems(cell.source, glossary)
            ]
        if cell.cell_type != "markdown":
            continue
        where = f"{path}: cell {i}"
        lang = lang_of(cell)
        tags = cell.get("metadata", {}).get("tags", [])
        if lang is None:
            problems.append(
                f"{where}: a markdown cell needs exactly one of {LANG_TAGS} (has {tags})"
            )
            continue
        text = prose(cell.source)
        problems.extend(
            f"{where}: code span `{s}` looks like an expression but is not Python"
            for s in bad_code_spans(cell.source)
        )
        if lang == "lang:en":
            nxt = cells[i + 1] if i + 1 < len(cells) else None
            if nxt is None or nxt.cell_type != "markdown" or lang_of(nxt) != "lang:zh":
                problems.append(f"{where}: an English cell must be followed by its Chinese twin")
                continue
            if CJK.search(text):
                problems.append(f"{where}: Chinese text in an English cell")
            problems.extend(f"{where}: {p}" for p in heading_problems(cell.source, nxt.source))
            problems.extend(f"{where}: {p}" for p in link_problems(cell.source, "en", path))
            # The Chinese may name a term in a code span when it discusses the word itself.
            zh_text = MATHS.sub(" ", nxt.source)
            english = without_symbols(text, names)
            for term in glossary:
                if term.mentioned_in(english) and not any(z in zh_text for z in term.zh):
                    word = " ".join(term.pattern.search(english).group(0).split())
                    problems.append(
                        f"{where}: says '{word}' but its Chinese twin does not say "
                        f"{' / '.join(term.zh)} (docs/glossary.tsv, '{term.en[0]}')"
                    )
        elif lang == "lang:zh":
            prev = cells[i - 1] if i > 0 else None
            # An aside about Chinese word choices has nothing to say to an English reader.
            if "aside:zh" not in tags and (prev is None or lang_of(prev) != "lang:en"):
                problems.append(f"{where}: a Chinese cell must follow its English twin")
            if not CJK.search(text):
                problems.append(f"{where}: a Chinese cell without Chinese")
            problems.extend(f"{where}: {p}" for p in avoided_terms(text, glossary))
            problems.extend(f"{where}: {p}" for p in zh_style_problems(text))
            if "aside:zh" not in tags:  # an aside quotes the words it discusses
                problems.extend(
                    f"{where}: Chinese inside the code span `{s}`; write it outside the span"
                    for s in chinese_in_code_spans(cell.source)
                )
            problems.extend(f"{where}: {p}" for p in link_problems(cell.source, "zh", path))
            problems.extend(
                f"{where}: a line break inside a Chinese paragraph shows as a stray space "
                f"('{b}'); write the paragraph on one line"
                for b in chinese_line_breaks(cell.source)
            )
        else:
            words = words_in_shared_cell(cell.source)
            if words:
                problems.append(
                    f"{where}: a lang:any cell holds words ({', '.join(words[:5])}); "
                    "it may hold only maths and pictures, so put the words in the en/zh twins"
                )
    return problems


def zh_style_problems(text: str) -> list[str]:
    """House-style breaks in Chinese that are not a term: direction words, 「小了 N 倍」."""
    found = [
        f"uses '{w}': name the direction by the forward pass (往输入方向 / 往输出方向, "
        "前一层 / 后一层) (docs/BILINGUAL.md, Register)"
        for w in DIRECTION_WORDS
        if w in text
    ]
    found += [
        f"says '{m.group(0)}': write 「是正确值的 N 倍」 or 「只有正确值的 1/N」 "
        "(docs/BILINGUAL.md, Register)"
        for m in TIMES_OFF.finditer(text)
    ]
    return found


def chinese_in_code_spans(text: str) -> list[str]:
    """Code spans holding Chinese: a code span is code, and code is not Chinese."""
    return [s for s in CODE_SPAN.findall(FENCED.sub(" ", text)) if CJK.search(s)]


def avoided_terms(text: str, glossary: list[Term] | None = None) -> list[str]:
    """Chinese the glossary or the register rules forbid (``偏差`` for bias, slang)."""
    glossary = load_glossary() if glossary is None else glossary
    found = []
    for term in glossary:
        for bad in term.avoid:
            if bad in text:
                found.append(
                    f"uses '{bad}': the glossary says {' / '.join(term.zh)} for '{term.en[0]}'"
                )
    found += [
        f"uses '{s}': too casual for the course (docs/BILINGUAL.md, Register)"
        for s in SLANG
        if s in text
    ]
    return found


SOLUTION_REGION = re.compile(
    r"^[ \t]*### BEGIN SOLUTION.*?^[ \t]*### END SOLUTION[^\n]*$", re.S | re.M
)
PROSE_WORDS = re.compile(r"[A-Za-z]{3,}(?:[ ,'-]+[A-Za-z]{2,}){2,}")


def _comments_and_docstrings(source: str) -> list[str]:
    """The text of every comment and own-line triple-quoted string of ``source``."""
    import io
    import tokenize

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return []
    found = []
    lines = source.split("\n")
    for tok in tokens:
        row, col = tok.start
        if tok.type == tokenize.COMMENT:
            found.append(tok.string.lstrip("#").strip())
        elif (
            tok.type == tokenize.STRING
            and row <= len(lines)
            and not lines[row - 1][:col].strip()
            and tok.string.lstrip("rRuU")[:3] in ('"""', "'''")
        ):
            found.append(tok.string.lstrip("rRuU")[3:-3].strip())
    return found


def answer_comment_problems(source: str, glossary: list[Term] | None = None) -> list[str]:
    """An answer cell's stub: every comment and docstring in words has its Chinese line
    (docs/BILINGUAL.md, "Comments and docstrings"), and that Chinese follows the glossary."""
    from autograder.authoring.edition import code_in_language

    stub = SOLUTION_REGION.sub("", source)
    problems = []
    for text in _comments_and_docstrings(code_in_language(stub, "zh")):
        if not CJK.search(text) and PROSE_WORDS.search(text):
            problems.append(f"a comment or docstring of the answer has no Chinese line: {text!r}")
    chinese = "\n".join(t for t in _comments_and_docstrings(stub) if CJK.search(t))
    problems += [f"in a comment: {p}" for p in avoided_terms(chinese, glossary)]
    return problems


def check_tree(root: Path = ROOT) -> list[str]:
    """Every notebook of solutions/ and notebooks/, and the Chinese of every message."""
    glossary = load_glossary(root / "docs" / "glossary.tsv")
    problems: list[str] = []
    for folder in ("solutions", "notebooks"):
        for nb in sorted((root / folder).rglob("*.ipynb")):
            if ".ipynb_checkpoints" not in nb.parts:
                problems.extend(check_notebook(nb, glossary))
    for package in ("course_utils", "autograder"):
        for py in sorted((root / package).rglob("*.py")):
            if py.name == "bilingual.py":
                continue  # it names the words it forbids
            text = py.read_text(encoding="utf-8")
            problems.extend(f"{py}: {p}" for p in avoided_terms(text, glossary))
    return problems


# --- messages: every sentence a learner reads has its other-language twin ------------------

LATIN_SENTENCE_WORD = re.compile(r"\b[A-Za-z][a-z]+\b")
BILINGUAL_CALLS = ("Msg", "say")


def _literal(node: ast.AST) -> str | None:
    """The text of a string constant or f-string (placeholders as ``{}``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _call_name(node: ast.Call) -> str:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _target_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def message_problems(source: str, *, learner_facing: bool = True) -> list[str]:
    """One-language messages in Python source (a module, or a notebook's code cell).

    - ``Msg(en, zh)`` and ``say(en, zh)`` need both texts, English in the first and Chinese
      in the second;
    - a string with Chinese outside them needs its English in the same string
      (``"Grading report · 评分报告"``), in a sibling of the same tuple or call, or a twin
      variable (``lines_zh`` beside ``lines_en``);
    - where ``learner_facing``, ``print`` of a sentence must be ``say`` instead.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    problems: list[str] = []
    checked: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if name in BILINGUAL_CALLS:
            texts = [_literal(a) for a in node.args[:2]]
            for a in node.args:
                checked |= {id(n) for n in ast.walk(a)}
            if name == "say" and len(node.args) == 1 and texts[0] is None:
                continue  # say(msg) with a ready Msg
            en, zh = (texts + [None, None])[:2]
            if en is not None and CJK.search(en):
                problems.append(
                    f"line {node.lineno}: {name}() has Chinese in its English text: {en[:60]!r}"
                )
            if len(node.args) < 2:
                problems.append(
                    f"line {node.lineno}: {name}() without its Chinese text: {en!r:.60}"
                )
            elif zh is not None and not CJK.search(zh) and LATIN_SENTENCE_WORD.search(en or "x"):
                problems.append(
                    f"line {node.lineno}: {name}() whose Chinese text has no Chinese: {zh[:60]!r}"
                )
        elif name == "print" and learner_facing:
            for a in node.args:
                text = _literal(a)
                if text is not None and one_language_lines(text):
                    problems.append(
                        f"line {node.lineno}: print() of a sentence in one language: {text[:60]!r}; "
                        "use say(en, zh) or say(Msg(...))"
                    )
    for node in ast.walk(tree):
        text = _literal(node)
        if text is None or id(node) in checked or not CJK.search(text):
            continue
        parent = parents.get(id(node))
        if isinstance(parent, ast.JoinedStr):
            continue  # judged as part of the f-string
        if LATIN_WORD.search(CJK.sub(" ", text)):
            continue  # both languages in one string
        siblings = []
        if isinstance(parent, (ast.Tuple, ast.List)):
            siblings = parent.elts
        elif isinstance(parent, ast.Call):
            siblings = parent.args
        if any(
            (t := _literal(s)) is not None and not CJK.search(t) and LATIN_SENTENCE_WORD.search(t)
            for s in siblings
        ):
            continue
        twin = ""
        if isinstance(parent, ast.Assign):
            twin = _target_name(parent.targets[0])
        elif isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute):
            twin = _target_name(parent.func.value)  # lines_zh.append(...)
        elif isinstance(parent, ast.keyword):
            twin = parent.arg or ""
        if twin.endswith("zh"):
            continue
        problems.append(f"line {node.lineno}: Chinese without its English twin: {text[:60]!r}")
    for node in ast.walk(tree):  # house style in every Chinese string (slang: avoided_terms)
        text = _literal(node)
        if text is None or not CJK.search(text):
            continue
        if isinstance(parents.get(id(node)), ast.JoinedStr):
            continue
        problems += [f"line {node.lineno}: {p}" for p in zh_style_problems(text)]
    return problems


EXCEPTION_LINE = re.compile(r"^\s*(\w+\.)*[A-Z]\w*(Error|Warning|Exception)\b")
OUTPUT_WORD = re.compile(r"^[A-Za-z][a-z]+[,.;!?)]*:?$")
# A sentence, unlike a label ("reverse 3 ms, forward 5 ms"), has at least one of these.
FUNCTION_WORDS = set(
    "a an the of is are was were be been that this these to from in on at with for not no "
    "still has have had now after before than and or by it its your you we our found".split()
)


def one_language_lines(text: str) -> list[str]:
    """Lines of a zh-edition output that are English sentences (they should have been said in Chinese).

    Reprs (``<MulBackward0 object at …>``), ``True``/``False``/``None`` and labels of one or two
    words (``loss:``, ``requires grad:``) are not sentences; a line quoting an exception or a
    warning (``RuntimeError: …``) is torch's own message, and so are the lines it wraps onto.
    """
    found = []
    quoting = False
    previous = ""
    for line in text.splitlines():
        if EXCEPTION_LINE.match(line):
            quoting = True
        elif quoting and not (len(previous) >= 70 and line.strip()):
            quoting = False
        previous = line
        if quoting or CJK.search(line):
            continue
        bare = re.sub(r"<[^>]*>|'[^']*'|\"[^\"]*\"", " ", line)
        for segment in re.split(r"\s\|\s|:\s", bare):
            words = [w for w in segment.split() if OUTPUT_WORD.match(w)]
            words = [w.rstrip(",.;:!?)") for w in words]
            words = [w for w in words if w not in ("True", "False", "None")]
            if len(words) >= 3 and FUNCTION_WORDS & {w.lower() for w in words}:
                found.append(line)
                break
    return found


def code_cell_problems(path: Path) -> list[str]:
    """``message_problems`` for every code cell of a lesson notebook."""
    try:
        nb = _read(path)
    except Exception:
        return []
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            source = "\n".join(
                "" if line.lstrip().startswith(("%", "!")) else line
                for line in cell.source.splitlines()
            )
            problems += [f"{path}: cell {i}: {p}" for p in message_problems(source)]
    return problems


def messages_tree(root: Path = ROOT) -> list[str]:
    """One-language messages in course_utils/, autograder/ and the lessons' code cells."""
    problems = []
    for package in ("course_utils", "autograder"):
        for py in sorted((root / package).rglob("*.py")):
            if py.name == "bilingual.py":
                continue  # it names the Chinese words it forbids
            text = py.read_text(encoding="utf-8")
            facing = package == "course_utils"
            problems += [f"{py}: {p}" for p in message_problems(text, learner_facing=facing)]
    for nb in sorted((root / "solutions").rglob("*.ipynb")):
        if ".ipynb_checkpoints" not in nb.parts:
            problems += code_cell_problems(nb)
    return problems
