"""course edition --lang en|zh|both [--out DIR] [--source DIR] [--force]"""

from __future__ import annotations

import argparse
from pathlib import Path

from autograder.authoring.edition import EDITIONS_DIR, LANGS, build_edition
from autograder.config import RELEASE_DIR, ROOT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lang",
        required=True,
        choices=LANGS,
        help="en: English only; zh: 中文 only; both: bilingual (a plain copy)",
    )
    parser.add_argument(
        "--out", type=Path, help=f"where to write it (default: {EDITIONS_DIR}/<lang>/)"
    )
    parser.add_argument(
        "--source",
        type=Path,
        help=f"the bilingual notebooks to start from (default: {RELEASE_DIR}/)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite notebooks that already exist in the edition and differ (a learner's work!)",
    )


def _from_root(path: Path) -> str:
    """``path`` as the JupyterLab command (run from the course root) should name it."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run(args: argparse.Namespace) -> int:
    try:
        report = build_edition(args.lang, out=args.out, source=args.source, force=args.force)
    except (FileNotFoundError, ValueError) as exc:
        print(f"course edition: {exc}")
        return 1
    out = _from_root(report.out)
    print(
        f"{args.lang} edition in {out}/: {len(report.written)} file(s) written, "
        f"{len(report.unchanged)} unchanged, {len(report.kept)} kept."
    )
    for rel in report.kept:
        print(f"  kept (it differs and may hold your work; --force overwrites it): {rel}")
    # Feedback (course_utils.i18n) follows COURSE_LANG; JupyterLab passes it on to kernels.
    lang_env = f"COURSE_LANG={args.lang} " if args.lang != "both" else ""
    cd = "" if Path.cwd().resolve() == ROOT else f"cd {ROOT} && "
    print(
        f"Open it · 打开方式: {cd}{lang_env}.venv/bin/jupyter lab "
        f"--ServerApp.root_dir={out} START_HERE.ipynb"
    )
    return 0
