"""One-language editions of the learner notebooks: ``course edition --lang en|zh|both``.

The course is written bilingually (docs/BILINGUAL.md): every prose cell is a markdown cell
tagged ``lang:en`` or ``lang:zh``, formulas and pictures are ``lang:any``. An edition keeps
the markdown cells of the chosen language and ``lang:any``, and drops the other language's.
Everything else is copied untouched: code cells, and every cell nbgrader knows
(answers, tests, locked cells keep their sources, metadata and checksums), so an edition
notebook validates and autogrades exactly like the bilingual one.

The edition has the layout of ``notebooks/`` (``<lesson>/<lesson>.ipynb`` and
``START_HERE.ipynb``) and goes to ``editions/<lang>/`` unless told otherwise. A learner
works in it, so a notebook they changed is kept (it may hold their answers) unless ``force``
is given. What the edition wrote is recorded in ``.edition.json`` (a digest per file): a file
still as written is the course's, and a newer release replaces it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.authoring import cells
from autograder.config import RELEASE_DIR, ROOT

LANGS = ("en", "zh", "both")
EDITIONS_DIR = "editions"
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


def keep_cell(cell: NotebookNode, lang: str) -> bool:
    """Whether ``cell`` belongs in the ``lang`` edition."""
    if lang == "both" or cell.cell_type != "markdown":
        return True
    if cell.get("metadata", {}).get("nbgrader"):
        return True  # never drop a cell nbgrader tracks, whatever its tags
    other = "lang:zh" if lang == "en" else "lang:en"
    return other not in cell.get("metadata", {}).get("tags", [])


def edition_notebook(nb: NotebookNode, lang: str) -> NotebookNode:
    """A copy of ``nb`` with only the cells of the ``lang`` edition."""
    check_lang(lang)
    out = nbformat.from_dict(nb)
    out.cells = [cell for cell in out.cells if keep_cell(cell, lang)]
    return out


@dataclass
class EditionReport:
    out: Path
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


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


def build_edition(
    lang: str,
    out: Path | None = None,
    source: Path | None = None,
    force: bool = False,
    root: Path = ROOT,
) -> EditionReport:
    """Write the ``lang`` edition of ``source`` (default notebooks/) into ``out``."""
    check_lang(lang)
    source = Path(source) if source is not None else root / RELEASE_DIR
    out = Path(out) if out is not None else default_out(lang, root)
    if not source.is_dir() or not any(source.rglob("*.ipynb")):
        raise FileNotFoundError(f"no notebooks in {source}: run `course release` first")
    if out.resolve() == source.resolve():
        raise ValueError(f"the edition would overwrite its source {source}: choose another --out")
    report = EditionReport(out)
    written = _read_manifest(out)
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if not path.is_file() or SKIP_PARTS & set(rel.parts):
            continue
        target = out / rel
        data = _edition_bytes(path, lang) if path.suffix == ".ipynb" else path.read_bytes()
        if target.exists():
            current = target.read_bytes()
            if current == data:
                report.unchanged.append(str(rel))
                written[str(rel)] = _digest(data)
                continue
            if not force and written.get(str(rel)) != _digest(current):
                report.kept.append(str(rel))
                continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written[str(rel)] = _digest(data)
        report.written.append(str(rel))
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).write_text(json.dumps(written, indent=1, sort_keys=True), encoding="utf-8")
    return report
