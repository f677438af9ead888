"""course grade SUBMITTED [--workers N] [--db URL] [--out DIR]"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "submitted",
        type=Path,
        help="<student_id>/<assignment>/<notebook>.ipynb folders, or a .zip of them",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="parallel graders (default: the number of cores)",
    )
    parser.add_argument(
        "--db",
        default=None,
        help="gradebook URL (default: sqlite in the output folder; postgresql://... works)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("grading-out"),
        help="where grades.csv, feedback/ and report/ go",
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run kernels without isolation (trusted submissions only)",
    )
    parser.add_argument(
        "--cell-timeout", type=int, default=60, help="seconds a cell may run (default 60)"
    )
    parser.add_argument(
        "--notebook-timeout", type=int, default=600, help="seconds a notebook may run (default 600)"
    )
    parser.add_argument(
        "--memory", type=float, default=2.0, help="GiB a kernel may allocate (default 2)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from autograder.grading.grade import Limits, grade

    try:
        summary = grade(
            args.submitted,
            args.out,
            workers=args.workers,
            db_url=args.db,
            sandbox=not args.no_sandbox,
            progress=not args.quiet,
            limits=Limits(args.cell_timeout, args.notebook_timeout, int(args.memory * (1 << 30))),
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"course grade: {exc}")
        return 2
    for p in summary.problems:
        print(f"warning: {p}")
    graded = summary.graded
    for r in sorted(graded, key=lambda r: r.key):
        flag = "" if r.ok else "  [grader problem]"
        notes = f"  ({'; '.join(r.notes)})" if r.notes else ""
        print(f"{r.key}: {r.score:g}/{r.max_score:g} in {r.seconds:.1f}s{flag}{notes}")
    per = statistics.mean(r.seconds for r in graded) if graded else 0.0
    print(
        f"graded {len(graded)}, unchanged {summary.skipped}, failed {sum(not r.ok for r in graded)} "
        f"in {summary.seconds:.1f}s ({per:.1f}s per submission in a worker)"
    )
    print(
        f"grades: {summary.out / 'grades.csv'}  feedback: {summary.out / 'feedback'}  report: {summary.out / 'report' / 'index.html'}"
    )
    return 0 if all(r.ok for r in graded) else 1
