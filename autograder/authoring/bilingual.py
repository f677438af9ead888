"""Check the bilingual convention (docs/BILINGUAL.md) and the glossary (docs/glossary.tsv).

Problems are returned as strings "path: cell N: what is wrong" so a test or the
``course check`` command can print them all at once.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.config import ROOT

LANG_TAGS = ("lang:en", "lang:zh", "lang:any")
GLOSSARY = ROOT / "docs" / "glossary.tsv"
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
INLINE_CODE = re.compile(r"`[^`]*`|\$\$.*?\$\$|\$[^$]*\$", re.S)
FENCED = re.compile(r"```.*?```", re.S)


@dataclass(frozen=True)
class Term:
    en: tuple[str, ...]
    zh: tuple[str, ...]
    avoid: tuple[str, ...]

    def mentioned_in(self, english: str) -> bool:
        return any(re.search(rf"(?<![\w-]){re.escape(v)}(?![\w-])", english, re.I) for v in self.en)


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


def check_notebook(path: Path, glossary: list[Term] | None = None) -> list[str]:
    glossary = load_glossary() if glossary is None else glossary
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:
        return [f"{path}: cannot be read as a notebook ({exc})"]
    problems: list[str] = []
    cells = nb.cells
    for i, cell in enumerate(cells):
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
        if lang == "lang:en":
            nxt = cells[i + 1] if i + 1 < len(cells) else None
            if nxt is None or nxt.cell_type != "markdown" or lang_of(nxt) != "lang:zh":
                problems.append(f"{where}: an English cell must be followed by its Chinese twin")
                continue
            if CJK.search(text):
                problems.append(f"{where}: Chinese text in an English cell")
            zh_text = prose(nxt.source)
            for term in glossary:
                if term.mentioned_in(text) and not any(z in zh_text for z in term.zh):
                    problems.append(
                        f"{where}: mentions '{term.en[0]}' but its Chinese twin does not say "
                        f"{' / '.join(term.zh)} (docs/glossary.tsv)"
                    )
        elif lang == "lang:zh":
            prev = cells[i - 1] if i > 0 else None
            if prev is None or lang_of(prev) != "lang:en":
                problems.append(f"{where}: a Chinese cell must follow its English twin")
            if not CJK.search(text):
                problems.append(f"{where}: a Chinese cell without Chinese")
            problems.extend(f"{where}: {p}" for p in avoided_terms(text, glossary))
        elif CJK.search(text):
            problems.append(
                f"{where}: a lang:any cell should hold no prose, only maths or pictures"
            )
    return problems


def avoided_terms(text: str, glossary: list[Term] | None = None) -> list[str]:
    glossary = load_glossary() if glossary is None else glossary
    found = []
    for term in glossary:
        for bad in term.avoid:
            if bad in text:
                found.append(
                    f"uses '{bad}': the glossary says {' / '.join(term.zh)} for '{term.en[0]}'"
                )
    return found


def check_tree(root: Path = ROOT) -> list[str]:
    """Every notebook of solutions/ and notebooks/, and the Chinese of course_utils' messages."""
    glossary = load_glossary()
    problems: list[str] = []
    for folder in ("solutions", "notebooks"):
        for nb in sorted((root / folder).rglob("*.ipynb")):
            if ".ipynb_checkpoints" not in nb.parts:
                problems.extend(check_notebook(nb, glossary))
    for py in sorted((root / "course_utils").rglob("*.py")):
        text = py.read_text(encoding="utf-8")
        problems.extend(f"{py}: {p}" for p in avoided_terms(text, glossary))
    return problems
