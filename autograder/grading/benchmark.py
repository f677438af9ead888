"""Benchmark: stock ``nbgrader autograde`` against ``course grade`` on the same submissions.

    .venv/bin/python -m autograder.grading.benchmark --n 16
    .venv/bin/python -m autograder.grading.benchmark --scale --n 128
    .venv/bin/python -m autograder.grading.benchmark --scale --n 36 --counts 1 2 --repeat 3

Makes N sample submissions spread over every lesson (a mix of correct, blank and
wrong), grades them with stock nbgrader (one ``nbgrader autograde`` per lesson, which
is its best case) and with ``course grade``, one after the other, then merely executes
the same notebooks with fresh kernels. Prints the times, the ratio, seconds per
submission, how long the cells themselves take, and whether both graders gave
identical scores (it exits 1 if they did not).

``--scale`` grades the same N submissions with 1, 2, 4, … workers up to the core count
and prints, for each, the time, the speed-up over one worker and the efficiency
(speed-up ÷ workers), the machine's busy CPU seconds per submission and how many cores
that kept busy on average (one worker already overlaps some work), how much of the
time the worker pool took (and its own speed-up) against the grader's single-process
part, which grades differ between worker counts and why, then stock nbgrader on a few
of them (``--stock-n``) for scale. ``--repeat R`` runs the worker counts in turn, R
rounds, and prints the median of each: a shared machine's speed drifts by a fifth from
one minute to the next. Both modes print where a warm worker's time goes per submission
(median of each step).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat

from autograder.authoring.release import lessons
from autograder.authoring.samples import (
    fill,
    lesson_paths,
    make_course,
    submit,
    wrong_answers,
)

KINDS = ("correct", "blank", "wrong")


def make_submissions(n: int, folder: Path) -> list[tuple[str, str, Path]]:
    """(student, lesson, notebook) for n submissions cycling through lessons and kinds."""
    made = []
    all_lessons = lessons()
    for i in range(n):
        lesson = all_lessons[i % len(all_lessons)]
        kind = (
            KINDS[(i // len(all_lessons)) % len(KINDS)]
            if n > len(all_lessons)
            else KINDS[i % len(KINDS)]
        )
        solution_path, released_path = lesson_paths(lesson)
        solution = nbformat.read(solution_path, as_version=4)
        released = nbformat.read(released_path, as_version=4)
        if kind == "correct":
            nb = fill(released, solution)
        elif kind == "wrong":
            nb = fill(released, solution, wrong_answers(solution))
        else:
            nb = released
        student = f"{kind}{i:03d}"
        path = folder / student / lesson / solution_path.name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        made.append((student, lesson, path))
    return made


def run(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    busy = machine_busy_seconds()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    LAST_RUN["busy"] = machine_busy_seconds() - busy
    return time.perf_counter() - start


LAST_RUN: dict[str, float] = {}


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (Linux).

    The whole machine's, not the grader's: kernels die with their fork server, which
    nobody waits for, so their time never reaches the grader's resource usage. Run the
    benchmark on an otherwise idle machine. Time the hypervisor gave to other machines
    ("steal") is not this machine's work and is left out."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def notes_of(out: Path, key: tuple[str, str]) -> str:
    """What the grader noted on one submission (why a score differs between runs)."""
    graded = json.loads((out / "state.json").read_text()).get("graded", {})
    entry = graded.get("/".join(key)) or {}
    cells = {k: v for k, v in (entry.get("cells") or {}).items() if v[0] != v[1]}
    return f"{entry.get('notes') or []} lost {cells}"


def scores(csv_path: Path) -> dict[tuple[str, str], float]:
    return {
        (r["student_id"], r["assignment"]): float(r["score"])
        for r in csv.DictReader(csv_path.open())
    }


def execute_only(notebooks: list[Path]) -> tuple[float, float]:
    """(wall seconds, seconds spent in cells) to run the notebooks with fresh kernels."""
    from nbclient import NotebookClient

    wall = cells = 0.0
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(
            nb,
            timeout=120,
            allow_errors=True,
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
        wall += time.perf_counter() - start
        for cell in nb.cells:
            timing = cell.get("metadata", {}).get("execution", {})
            t0, t1 = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
            if t0 and t1:
                cells += (_ts(t1) - _ts(t0)).total_seconds()
    return wall, cells


def _ts(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


PHASES = ("copy", "kernel", "cells", "autograde", "notes", "feedback", "gradebook")


def breakdown(out: Path) -> str:
    """Median seconds per step of a submission in a worker, from the run's state file."""
    import statistics

    state = json.loads((out / "state.json").read_text())
    graded = state.get("graded", {}).values()
    rows = [r.get("phases") or {} for r in graded]
    rows = [r for r in rows if r]
    if not rows:
        return "  (no per-step times recorded)"
    medians = {k: statistics.median(r.get(k, 0.0) for r in rows) for k in PHASES}
    total = statistics.median(r2.get("seconds", 0.0) for r2 in graded)
    parts = "  ".join(f"{k} {v:.2f}" for k, v in medians.items())
    fixed = sum(v for k, v in medians.items() if k != "cells")
    run = "  ".join(f"{k} {v:.1f}" for k, v in (state.get("timing") or {}).items())
    pages = sum(len(r.get("feedback") or []) for r in graded)
    return (
        f"  per submission (median, s): {parts}\n"
        f"  total {total:.2f} s, of which {fixed:.2f} s around the cells; "
        f"run (s): {run}; feedback pages {pages}"
    )


def grade_cmd(submitted: Path, out: Path, workers: int, extra: list[str]) -> list[str]:
    return [
        sys.executable, "-m", "autograder.cli", "grade", "--quiet", str(submitted),
        "--out", str(out), "--workers", str(workers), *extra,
    ]  # fmt: skip


def worker_counts(cores: int) -> list[int]:
    counts, n = [], 1
    while n < cores:
        counts.append(n)
        n *= 2
    return [*counts, cores]


def stock_grade(base: Path, subs: list[tuple[str, str, Path]]) -> float:
    """Seconds for stock ``nbgrader autograde`` (one call per lesson, its best case)."""
    used = sorted({lesson for _, lesson, _ in subs})
    stock = make_course(base, used)
    for lesson in used:
        run([sys.executable, "-m", "nbgrader", "generate_assignment", lesson, "--force"], stock)
    for student, lesson, path in subs:
        submit(stock, student, lesson, nbformat.read(path, as_version=4), path.name)
    return sum(
        run([sys.executable, "-m", "nbgrader", "autograde", lesson, "--create"], stock)
        for lesson in used
    )


def scale(args, base: Path) -> int:
    import statistics

    cores = len(os.sched_getaffinity(0))
    counts = args.counts or worker_counts(cores)
    subs = make_submissions(args.n, base / "submitted")
    used = sorted({lesson for _, lesson, _ in subs})
    print(f"{args.n} submissions over {len(used)} lesson(s) on {cores} core(s)", flush=True)
    extra = ["--no-sandbox"] if args.no_sandbox else []
    # Worker counts take turns, round after round: a slow minute of a shared machine then
    # lands on every count, not on one, and the medians compare like with like.
    runs: dict[int, list[dict]] = {w: [] for w in counts}
    for round_ in range(args.repeat):
        for workers in counts:
            out = base / f"out-{workers}-{round_}"
            seconds = run(grade_cmd(base / "submitted", out, workers, extra), base)
            runs[workers].append(
                {
                    "out": out,
                    "seconds": seconds,
                    "busy": LAST_RUN["busy"],
                    "pool": json.loads((out / "state.json").read_text())["timing"]["grading"],
                    "grades": scores(out / "grades.csv"),
                }
            )
            if args.repeat > 1:
                print(f"  round {round_ + 1}, {workers} worker(s): {seconds:.1f} s", flush=True)

    def median_run(workers: int) -> dict:
        ordered = sorted(runs[workers], key=lambda r: r["seconds"])
        return ordered[(len(ordered) - 1) // 2]

    first = counts[0]
    one = statistics.median(r["seconds"] for r in runs[first]) * first
    pool_one = statistics.median(r["pool"] for r in runs[first]) * first
    for workers in counts:
        seconds = statistics.median(r["seconds"] for r in runs[workers])
        pool = statistics.median(r["pool"] for r in runs[workers])
        busy = statistics.median(r["busy"] for r in runs[workers])
        cores = statistics.median(r["busy"] / r["seconds"] for r in runs[workers])
        spread = ""
        if args.repeat > 1:
            times = sorted(r["seconds"] for r in runs[workers])
            spread = f" (median of {len(times)}: {times[0]:.1f}–{times[-1]:.1f} s)"
        print(
            f"workers {workers:3d}: {seconds:7.1f} s{spread}  {args.n / seconds:6.2f} submissions/s"
            f"  speed-up {one / seconds:5.2f}x  efficiency {one / seconds / workers:4.0%}"
            f"  busy CPU {busy / args.n:.2f} s per submission ({cores:.2f} cores busy)",
            flush=True,
        )
        print(
            f"  of which the pool's share {pool:.1f} s"
            f" (speed-up {pool_one / pool:.2f}x) and the rest, one process"
            f" (imports, preparing and preloading, export), {seconds - pool:.1f} s",
            flush=True,
        )
        print(breakdown(median_run(workers)["out"]), flush=True)
    reference = runs[first][0]
    differ = [
        (r, key)
        for workers in counts
        for r in runs[workers]
        for key in sorted(set(r["grades"]) | set(reference["grades"]))
        if r["grades"].get(key) != reference["grades"].get(key)
    ]
    print(f"identical scores for every worker count: {'NO' if differ else 'yes'}")
    for r, key in differ:
        print(
            f"  {key}: {reference['out'].name} {reference['grades'].get(key)}"
            f" vs {r['out'].name} {r['grades'].get(key)}; notes: "
            + "; ".join(notes_of(x["out"], key) for x in (reference, r))
        )
    if args.stock_n:
        k = min(args.stock_n, args.n)
        t = stock_grade(base / "stock", subs[:k])
        best = min(r["seconds"] for rs in runs.values() for r in rs)
        print(
            f"stock nbgrader autograde: {t:.1f} s for {k} ({t / k:.2f} s per submission); "
            f"course grade at its best: {best / args.n:.3f} s per submission "
            f"({t / k / (best / args.n):.0f}x)"
        )
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=16, help="number of submissions (default 16)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--keep", type=Path, help="keep the working folder here instead of a temporary one"
    )
    parser.add_argument("--scale", action="store_true", help="1, 2, 4, … workers")
    parser.add_argument(
        "--counts", type=int, nargs="+", help="worker counts for --scale (default 1, 2, 4, …)"
    )
    parser.add_argument(
        "--stock-n", type=int, default=8, help="submissions stock nbgrader grades in --scale"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="--scale rounds, worker counts taking turns; prints the median of each",
    )
    parser.add_argument("--no-sandbox", action="store_true", help="pass --no-sandbox")
    args = parser.parse_args(argv)
    bindir = os.path.dirname(sys.executable)
    os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")

    with tempfile.TemporaryDirectory(prefix="course-bench-") as tmp:
        base = args.keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        if args.scale:
            return scale(args, base)
        subs = make_submissions(args.n, base / "submitted")
        used = sorted({lesson for _, lesson, _ in subs})
        print(f"{args.n} submissions over {len(used)} lesson(s) on {os.cpu_count()} core(s)")

        stock = make_course(base / "stock", used)
        for lesson in used:
            run([sys.executable, "-m", "nbgrader", "generate_assignment", lesson, "--force"], stock)
        for student, lesson, path in subs:
            submit(stock, student, lesson, nbformat.read(path, as_version=4), path.name)
        t_stock = sum(
            run([sys.executable, "-m", "nbgrader", "autograde", lesson, "--create"], stock)
            for lesson in used
        )
        run([sys.executable, "-m", "nbgrader", "export", "--to", str(base / "stock.csv")], stock)

        t_fast = run(
            [
                sys.executable,
                "-m",
                "autograder.cli",
                "grade",
                "--quiet",
                str(base / "submitted"),
                "--out",
                str(base / "fast"),
                "--workers",
                str(args.workers),
            ],
            base,
        )
        t_exec, t_cells = execute_only([path for _, _, path in subs])

        stock_scores = scores(base / "stock.csv")
        fast_scores = scores(base / "fast" / "grades.csv")
        same = stock_scores == fast_scores
        n = args.n
        print(f"stock nbgrader autograde : {t_stock:7.1f} s  ({t_stock / n:5.2f} s per submission)")
        print(
            f"course grade (-j {args.workers})     : {t_fast:7.1f} s  ({t_fast / n:5.2f} s per submission)"
        )
        print(f"speed-up                 : {t_stock / t_fast:7.2f}x")
        print(f"execute only, fresh kernels: {t_exec:5.1f} s  ({t_exec / n:5.2f} s per submission)")
        print(f"time inside the cells    : {t_cells:7.1f} s  ({t_cells / n:5.2f} s per submission)")
        print(f"identical scores         : {'yes' if same else 'NO'} ({len(stock_scores)} grades)")
        print(breakdown(base / "fast"))
        if not same:
            for key in sorted(set(stock_scores) | set(fast_scores)):
                if stock_scores.get(key) != fast_scores.get(key):
                    print(
                        f"  {key}: stock {stock_scores.get(key)} vs course grade {fast_scores.get(key)}"
                    )
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
