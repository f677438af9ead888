"""course workspace [--lang both|en|zh] [--reset LESSON ...] [--dir DIR] [--source DIR]

The learner's workspace is the folder ``make lab`` serves: ``work/both/`` (the bilingual
course), ``work/en/`` or ``work/zh/`` (``COURSE_LANG=en|zh make lab``). The learner's answers,
autosaves and Validate write there, never into ``notebooks/``, which git tracks and
``course release`` rewrites. It is made on first use from ``notebooks/`` (its ``--lang``
edition); run again (``make lab`` does, every time), it adds what a newer release added,
updates every file the learner has not changed and keeps every file they changed
(``autograder.authoring.edition``: the edition's manifest tells them apart). ``--reset LESSON``
takes the course's version of a lesson back, after copying the learner's into
``backups/<date>_<time>/`` in the workspace.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.authoring.edition import BACKUPS_DIR, LANGS, WORK_DIR, build_edition, workspace_dir
from autograder.config import RELEASE_DIR
from autograder.lab.setup import current_lang


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lang",
        choices=LANGS,
        help="both: bilingual; en: English only; zh: 中文 only (default: $COURSE_LANG, else both)",
    )
    parser.add_argument(
        "--reset",
        nargs="+",
        action="extend",
        metavar="LESSON",
        help="put a lesson (its folder, e.g. 02_derivatives) or a file back to the course's "
        f"version; yours is copied to {BACKUPS_DIR}/<date>_<time>/ in the workspace first",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        help=f"the workspace (default: {WORK_DIR}/<lang>/, what make lab serves)",
    )
    parser.add_argument(
        "--source", type=Path, help=f"the release to start from (default: {RELEASE_DIR}/)"
    )


def shown(path: Path) -> str:
    """``path`` as the learner would type it from here: relative when it is below."""
    path, here = path.resolve(), Path.cwd().resolve()
    return str(path.relative_to(here)) if path.is_relative_to(here) else str(path)


def lesson_of(rel: str) -> str:
    """What ``--reset`` takes for a file of the workspace: its lesson's folder (or the file)."""
    return Path(rel).parts[0]


def reset_command(lang: str, lessons: list[str], folder: Path | None) -> str:
    words = [shown(Path(sys.prefix) / "bin" / "course"), "workspace"]
    words += ["--lang", lang] if lang != "both" else []
    words += ["--dir", shown(folder)] if folder is not None else []
    return " ".join([*words, "--reset", *lessons])


def run(args: argparse.Namespace) -> int:
    lang = args.lang or current_lang()
    folder = args.dir or workspace_dir(lang)
    try:
        report = build_edition(lang, out=folder, source=args.source, reset=args.reset or ())
    except (FileNotFoundError, ValueError) as exc:
        print(f"course workspace: {exc}")
        return 1
    where = shown(report.out) + "/"
    updated = [rel for rel in report.written if rel not in report.restored]
    if report.created:
        print(f"Your workspace · 你的工作区: {where} (made from the course · 由课程生成)")
    elif updated:
        names = sorted({lesson_of(rel) for rel in updated})
        print(f"Updated from the course · 已按课程更新 ({where}): {', '.join(names)}")
    elif not args.reset:
        print(f"Your workspace · 你的工作区: {where} (up to date · 已是最新)")
    if report.newer:
        print(
            "The course has a newer version of files you changed; yours are kept · "
            "课程更新了你改动过的文件，你的版本已保留："
        )
        for rel in report.newer:
            print(f"  {where}{rel}")
        lessons = sorted({lesson_of(rel) for rel in report.newer})
        print(
            "To take the course's version (yours is backed up first) · "
            "要换成课程的版本（你的版本会先备份）："
        )
        own = args.dir is not None and args.dir.resolve() != workspace_dir(lang).resolve()
        print(f"  {reset_command(lang, lessons, args.dir if own else None)}")
    if args.reset:
        if report.restored:
            print(
                f"Back to the course's version · 已恢复为课程的版本: {', '.join(report.restored)}"
            )
        if report.backup is not None:
            print(f"Your version is saved in · 你的版本保存在: {shown(report.backup)}/")
        if not report.restored:
            print(
                f"{', '.join(args.reset)}: already as the course has it, nothing to back up · "
                "已与课程的版本相同，无需备份"
            )
    return 0
