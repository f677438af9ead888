"""course grade SUBMITTED [--workers N] [--threads N] [--db URL] [--out DIR]"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import statistics
import sys
from pathlib import Path

from course_utils.i18n import Msg

STOPPED = Msg(
    "course grade: stopped by {signal}. {done} of {total} submission(s) graded and kept "
    "(state: {state}). To grade the rest, run the same command again:\n  {command}",
    "course grade：评分被 {signal} 中止。{total} 份提交中已评完的 {done} 份已保存"
    "（状态文件：{state}）。再次运行同一条命令即可继续评阅其余提交：\n  {command}",
)


def positive(kind: type):
    """An argparse type: a ``kind`` above zero, or argparse's own one-line error."""

    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in "invalid int value"
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "submitted",
        type=Path,
        help="<student_id>/<assignment>/<notebook>.ipynb folders, or a .zip of them",
    )
    parser.add_argument(
        "--workers",
        type=positive(int),
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
        "--cell-timeout", type=positive(int), default=60, help="seconds a cell may run (default 60)"
    )
    parser.add_argument(
        "--notebook-timeout",
        type=positive(int),
        default=600,
        help="seconds a notebook may run (default 600)",
    )
    parser.add_argument(
        "--memory", type=positive(float), default=2.0, help="GiB a kernel may allocate (default 2)"
    )
    parser.add_argument(
        "--threads",
        type=positive(int),
        default=None,
        help="torch threads per kernel and worker (default: cores ÷ workers)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:8786",
        help="grade on the workers of this Dask scheduler (needs --db postgresql://...)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from autograder.grading.grade import Interrupted, Limits, grade

    try:
        summary = grade(
            args.submitted,
            args.out,
            workers=args.workers,
            db_url=args.db,
            sandbox=not args.no_sandbox,
            progress=not args.quiet,
            limits=Limits(args.cell_timeout, args.notebook_timeout, int(args.memory * (1 << 30))),
            threads=args.threads,
            scheduler=args.scheduler,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"course grade: {exc}")
        return 2
    except Interrupted as stop:
        stopped(args.out, stop.signum)
    except KeyboardInterrupt:  # before the handlers were in place
        stopped(args.out, signal.SIGINT)
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


def stopped(out: Path, signum: int) -> None:
    """Say what was kept and how to go on, then end now with 128 + the signal's number.

    The workers are already gone (and with them their fork servers and kernels); ending
    with ``os._exit`` skips interpreter shutdown, which would otherwise wait on them.
    """
    try:
        state = json.loads((out / "state.json").read_text())
    except (OSError, ValueError):
        state = {}
    graded = state.get("graded", {})
    message = STOPPED.format(
        signal=signal.Signals(signum).name,
        done=sum(bool(r.get("ok")) for r in graded.values()),
        total=state.get("total", "?"),
        state=out / "state.json",
        command=shlex.join(["course", *sys.argv[1:]]),
    )
    try:
        print(message, flush=True)
        sys.stderr.flush()
    except OSError:
        pass  # the terminal is gone (SIGHUP): the state file still says it all
    os._exit(128 + signum)
