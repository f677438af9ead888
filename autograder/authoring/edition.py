"""One-language editions of the learner notebooks: ``course edition --lang en|zh|both``.

The course is written bilingually (docs/BILINGUAL.md): every prose cell is a markdown cell
tagged ``lang:en`` or ``lang:zh``, formulas and pictures are ``lang:any``. An edition keeps
the markdown cells of the chosen language and ``lang:any``, and drops the other language's.
Code cells keep their code; their comments and docstrings are bilingual by pairs of lines
(docs/BILINGUAL.md, "Comments and docstrings"), and the edition keeps only its language's
line of each pair (:func:`code_in_language`): an own-line comment or docstring line that
holds Chinese is Chinese, the lines just above it in the same comment block or docstring are
its English twin, and a trailing comment ``# English · 中文`` keeps the side of its language.
Lines with no Chinese twin (``# tensor([36., 81.])``) stay in both. Only cells the learner
writes in or reads are changed: answer cells (their nbgrader checksum follows the new source)
and ordinary code cells. Test cells and locked cells are copied byte for byte (sources,
metadata, checksums, hidden tests), so an edition notebook validates and autogrades exactly
like the bilingual one.

The edition has the layout of ``notebooks/`` (``<lesson>/<lesson>.ipynb`` and
``START_HERE.ipynb``) and goes to ``editions/<lang>/`` unless told otherwise. A learner
works in it, so a notebook they changed is kept (it may hold their answers) unless ``force``
is given. What the edition wrote is recorded in ``.edition.json`` (a digest per file): a file
still as written is the course's, and a newer release replaces it.

The learner's workspace (``course workspace``, which ``make lab`` serves) is such an edition
in ``work/<lang>/``: ``work/both/`` for the bilingual course, ``work/en/`` or ``work/zh/`` for
one language. ``reset`` puts some of its files back to the release, first copying the
learner's versions of them into ``backups/<date>_<time>/`` inside it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

import nbformat
from nbformat import NotebookNode

from autograder.authoring import cells
from autograder.config import RELEASE_DIR, ROOT

LANGS = ("en", "zh", "both")
EDITIONS_DIR = "editions"
WORK_DIR = "work"  # the learners' workspaces: work/<lang>/
BACKUPS_DIR = "backups"  # in a workspace: what `reset` took back, one folder per reset
SKIP_PARTS = {".ipynb_checkpoints", "__pycache__"}
MANIFEST = ".edition.json"


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(
            f"unknown language {lang!r}: choose one of {', '.join(LANGS)} (en = English, zh = 中文, both = 双语)"
        )
    return lang


def default_out(lang: str, root: Path = ROOT) -> Path:
    return root / EDITIONS_DIR / check_lang(lang)


def workspace_dir(lang: str, root: Path = ROOT) -> Path:
    """The learner's workspace for ``lang``: what ``make lab`` serves."""
    return root / WORK_DIR / check_lang(lang)


def keep_cell(cell: NotebookNode, lang: str) -> bool:
    """Whether ``cell`` belongs in the ``lang`` edition."""
    if lang == "both" or cell.cell_type != "markdown":
        return True
    if cell.get("metadata", {}).get("nbgrader"):
        return True  # never drop a cell nbgrader tracks, whatever its tags
    other = "lang:zh" if lang == "en" else "lang:en"
    return other not in cell.get("metadata", {}).get("tags", [])


CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
# A trailing comment in both languages: ``code  # English · 中文``.
TRAILING_SEP = " · "


# nbgrader's stub comment and other one-line pairs: ``# YOUR CODE HERE (在此处写你的代码)``.
PAREN_PAIR = re.compile(r"^(?P<en>[^\u3400-\u9fff]*?\S)\s*[(（](?P<zh>[^()（）]*)[)）]\s*$")


def _one_line_pair(comment: str) -> tuple[str, str] | None:
    """(English, Chinese) of a comment ``# English · 中文`` or ``# English (中文)``, else None."""
    body = comment[1:].strip()
    en, sep, zh = body.rpartition(TRAILING_SEP.strip())
    if not (sep and en.strip() and CJK.search(zh) and not CJK.search(en)):
        paren = PAREN_PAIR.match(body)
        if not paren or not CJK.search(paren["zh"]) or re.search(r"[A-Za-z]", paren["zh"]):
            return None
        en, zh = paren["en"], paren["zh"]
    return en.strip(), zh.strip()


def _trailing(comment: str, lang: str) -> str:
    """``# English · 中文`` -> ``# English`` or ``# 中文``; other comments as they are."""
    pair = _one_line_pair(comment)
    if pair is None:
        return comment
    return "# " + (pair[0] if lang == "en" else pair[1])


def _docstring_lines(token: str, lang: str) -> str:
    """A bilingual triple-quoted string with only ``lang``'s lines (English lines, then Chinese)."""
    prefix = re.match(r"[rRuU]?(\"\"\"|''')", token)
    if not prefix or not token.endswith(prefix.group(1)) or len(token) < 2 * len(prefix.group(0)):
        return token
    quote, opening = prefix.group(1), prefix.group(0)
    body = token[len(opening) : -len(quote)]
    lines = body.split("\n")
    if not any(CJK.search(line) for line in lines):
        return token
    keep = [line for line in lines if not line.strip() or bool(CJK.search(line)) == (lang == "zh")]
    while keep and not keep[0].strip():
        keep.pop(0)
    closing_indent = lines[-1] if not lines[-1].strip() else None
    while keep and not keep[-1].strip():
        keep.pop()
    if not keep:
        return token
    keep[0] = keep[0].lstrip()
    if closing_indent is not None and len(keep) > 1:
        keep.append(closing_indent)
    return opening + "\n".join(keep) + quote


def code_in_language(source: str, lang: str) -> str:
    """``source`` with only the ``lang`` line of each bilingual comment and docstring.

    Own-line comments come in blocks (consecutive comment lines at one indentation): in a block
    that has Chinese lines, those are the Chinese ones and the others English. A triple-quoted
    string that starts its line is split the same way. A trailing comment ``# English · 中文``
    keeps one side. Source that does not tokenize (a cell magic, say) is returned unchanged.
    """
    if lang == "both" or not CJK.search(source):
        return source
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return source
    lines = source.split("\n")
    edits: dict[tuple[int, int], tuple[int, int, str]] = {}  # (row, col) -> (end row, col, text)
    block: list[tuple[int, int]] = []  # own-line comments: (row, col)
    blocks: list[list[tuple[int, int]]] = []
    for tok in tokens:
        (row, col), (end_row, end_col) = tok.start, tok.end
        if row > len(lines):
            break
        own_line = not lines[row - 1][:col].strip()
        if tok.type == tokenize.COMMENT and own_line and _one_line_pair(tok.string) is None:
            if block and (block[-1][0] != row - 1 or block[-1][1] != col):
                blocks.append(block)
                block = []
            block.append((row, col))
            continue
        if tok.type in (tokenize.NL, tokenize.NEWLINE) and block and block[-1][0] == row:
            continue
        if block:
            blocks.append(block)
            block = []
        if tok.type == tokenize.COMMENT:
            edits[(row, col)] = (end_row, end_col, _trailing(tok.string, lang))
        elif (
            tok.type == tokenize.STRING
            and own_line
            and tok.string.lstrip("rRuU")[:3]
            in (
                '"""',
                "'''",
            )
        ):
            edits[(row, col)] = (end_row, end_col, _docstring_lines(tok.string, lang))
    if block:
        blocks.append(block)
    dropped: set[int] = set()
    for found in blocks:
        chinese = {row for row, col in found if CJK.search(lines[row - 1][col:])}
        if chinese:
            dropped |= chinese if lang == "en" else {row for row, _ in found} - chinese
    # Apply the edits from the end of the cell, so that earlier positions stay valid; a string
    # over several lines becomes the first of them, the others are left out.
    rows: list[str | None] = list(lines)
    for (row, col), (end_row, end_col, text) in sorted(edits.items(), reverse=True):
        rows[row - 1] = rows[row - 1][:col] + text + rows[end_row - 1][end_col:]
        rows[row:end_row] = [None] * (end_row - row)
    for row in dropped:
        rows[row - 1] = None
    return "\n".join(row for row in rows if row is not None)


def _cell_in_language(cell: NotebookNode, lang: str) -> NotebookNode:
    """A code cell the learner writes in or reads, with its comments in ``lang``."""
    if cell.cell_type != "code":
        return cell
    grading = cell.get("metadata", {}).get("nbgrader", {})
    if grading.get("grade") or grading.get("locked") or grading.get("task"):
        return cell  # tests and locked cells: nbgrader checks them byte for byte
    source = code_in_language(cell.source, lang)
    if source != cell.source:
        cell.source = source
        if "checksum" in grading:
            from nbgrader.utils import compute_checksum

            grading["checksum"] = compute_checksum(cell)
    return cell


def edition_notebook(nb: NotebookNode, lang: str) -> NotebookNode:
    """A copy of ``nb`` with only the cells of the ``lang`` edition, comments in ``lang``."""
    check_lang(lang)
    out = nbformat.from_dict(nb)
    out.cells = [_cell_in_language(cell, lang) for cell in out.cells if keep_cell(cell, lang)]
    return out


@dataclass
class EditionReport:
    out: Path
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    # of ``kept``: those the release has changed since the learner's copy was the course's
    newer: list[str] = field(default_factory=list)
    created: bool = False  # ``out`` had no manifest: the edition was made from scratch
    restored: list[str] = field(default_factory=list)  # written because ``reset`` named them
    backup: Path | None = None  # where ``reset`` copied the learner's versions
    backed_up: list[str] = field(default_factory=list)


def _edition_bytes(path: Path, lang: str) -> bytes:
    nb = cells.read(path)
    return (nbformat.writes(edition_notebook(nb, lang)) + "\n").encode("utf-8")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_manifest(out: Path) -> dict[str, str]:
    try:
        recorded = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def _source_files(source: Path) -> list[Path]:
    """The files of the release ``source`` that an edition holds."""
    return [
        path
        for path in sorted(source.rglob("*"))
        if path.is_file() and not SKIP_PARTS & set(path.relative_to(source).parts)
    ]


def _reset_parts(name: str) -> tuple[str, ...]:
    """A path to reset (``02_derivatives``, ``START_HERE.ipynb``), relative to the edition."""
    parts = tuple(p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", "."))
    if not parts or parts[0] == "/" or ".." in parts:
        raise ValueError(
            f"{name!r}: name a lesson (its folder) or a file inside the workspace · "
            "请给出课程（它的文件夹）或工作区中的文件"
        )
    return parts


def _backup_folder(out: Path) -> Path:
    """A new ``backups/<date>_<time>/`` in ``out`` (never one that exists)."""
    stamp = datetime.now().strftime("%Y-%m-%d_%H%M%S")
    folder, n = out / BACKUPS_DIR / stamp, 1
    while folder.exists():
        n += 1
        folder = out / BACKUPS_DIR / f"{stamp}-{n}"
    return folder


def build_edition(
    lang: str,
    out: Path | None = None,
    source: Path | None = None,
    force: bool = False,
    root: Path = ROOT,
    reset: Iterable[str] = (),
) -> EditionReport:
    """Write the ``lang`` edition of ``source`` (default notebooks/) into ``out``.

    A file still as this function last wrote it (``.edition.json``) follows the release; one
    the learner changed is kept, unless ``force``. Files at or under a path in ``reset`` (a
    lesson's folder, or a file) are put back to the release as well, after their current
    versions are copied into ``backups/<date>_<time>/`` inside ``out`` (``report.backup``).
    """
    check_lang(lang)
    source = Path(source) if source is not None else root / RELEASE_DIR
    out = Path(out) if out is not None else default_out(lang, root)
    if not source.is_dir() or not any(source.rglob("*.ipynb")):
        raise FileNotFoundError(f"no notebooks in {source}: run `course release` first")
    if out.resolve() == source.resolve():
        raise ValueError(f"the edition would overwrite its source {source}: choose another --out")
    files, reset = _source_files(source), list(reset)
    resets = [_reset_parts(name) for name in reset]
    for parts, name in zip(resets, reset, strict=True):
        if not any(p.relative_to(source).parts[: len(parts)] == parts for p in files):
            names = sorted({p.relative_to(source).parts[0] for p in files})
            raise ValueError(
                f"{name!r} is not part of the course · 课程中没有 {name!r}; "
                f"choose one of · 可选：{', '.join(names)}"
            )
    report = EditionReport(out, created=not (out / MANIFEST).is_file())
    written = _read_manifest(out)
    for path in files:
        rel = path.relative_to(source)
        target = out / rel
        data = _edition_bytes(path, lang) if path.suffix == ".ipynb" else path.read_bytes()
        resetting = any(rel.parts[: len(parts)] == parts for parts in resets)
        if target.exists():
            current = target.read_bytes()
            if current == data:
                report.unchanged.append(str(rel))
                written[str(rel)] = _digest(data)
                continue
            if resetting:
                report.backup = report.backup or _backup_folder(out)
                saved = report.backup / rel
                saved.parent.mkdir(parents=True, exist_ok=True)
                saved.write_bytes(current)
                report.backed_up.append(str(rel))
            elif not force and written.get(str(rel)) != _digest(current):
                report.kept.append(str(rel))
                if written.get(str(rel)) != _digest(data):
                    report.newer.append(str(rel))
                continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written[str(rel)] = _digest(data)
        report.written.append(str(rel))
        if resetting:
            report.restored.append(str(rel))
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).write_text(json.dumps(written, indent=1, sort_keys=True), encoding="utf-8")
    return report
