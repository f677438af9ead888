"""course export OUT --lms canvas|moodle --map MAP [--output FILE]: grades for an LMS."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course_utils.i18n import Msg

NO_GRADES = Msg(
    "course export: {path} does not exist: run course grade with --out {out} first.",
    "course export：{path} 不存在：请先运行带 --out {out} 的 course grade。",
)

CANNOT = Msg(
    "course export: cannot read or write a file: {error}",
    "course export：无法读取或写入文件：{error}",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from autograder.grading.lms import CANVAS_ID_COLUMNS, FORMATS, MOODLE_FIELDS

    parser.add_argument("out", type=Path, help="the folder course grade wrote (its grades.csv)")
    parser.add_argument("--lms", choices=FORMATS, required=True, help="the LMS's import format")
    parser.add_argument(
        "--map",
        type=Path,
        required=True,
        help="CSV of student_id,lms_id[,name,section]: nbgrader's ids to the LMS's",
    )
    parser.add_argument(
        "--output", type=Path, default=None, help="the CSV to write (default: OUT/<lms>.csv)"
    )
    parser.add_argument(
        "--id-column",
        choices=CANVAS_ID_COLUMNS,
        default="SIS User ID",
        help="Canvas: the column that holds the LMS id (default: SIS User ID)",
    )
    parser.add_argument(
        "--moodle-field",
        choices=MOODLE_FIELDS,
        default="email",
        help="Moodle: the user field the LMS id is (default: email)",
    )


def run(args: argparse.Namespace) -> int:
    from autograder.grading import lms

    grades = args.out / "grades.csv"
    if not grades.is_file():
        print(NO_GRADES.format(path=grades, out=args.out).render("both"), file=sys.stderr)
        return 2
    dest = args.output or args.out / f"{args.lms}.csv"
    try:
        done = lms.export(
            grades,
            args.map,
            args.lms,
            dest,
            id_column=args.id_column,
            moodle_field=args.moodle_field,
        )
    except OSError as exc:
        print(CANNOT.format(error=exc).render("both"), file=sys.stderr)
        return 2
    except ValueError as exc:  # the mapping file's problems, said in both languages
        print(f"course export: {exc}", file=sys.stderr)
        return 2
    for note in done.notes:
        print(f"warning: {note.en}\n警告：{note.zh}", file=sys.stderr)
    wrote = lms.WROTE.format(
        file=done.path, n=done.rows, k=len(lms.read_grades(grades).lessons), notes=done.notes_path
    )
    print(wrote.render("both"))
    return 0
