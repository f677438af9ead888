"""Benchmark: submission to feedback with the grading service, against the same burst by hand.

    .venv/bin/python -m autograder.grading.service_benchmark --learners 30 --within 10

Starts ``course serve`` (2 warm workers) on a scratch exchange, then, through nbgrader's
exchange as the hub's learners submit (:mod:`autograder.grading.learner_side`):

1. one lone submission: the seconds from its submit to its feedback released;
2. a burst: ``--learners`` learners submitting within ``--within`` seconds (correct, blank
   and wrong answers over ``--lessons``); per submission the seconds from its submit to its
   feedback released; p50, p95 and max;
3. by hand, the same burst: nbgrader's collect, ``course grade``, nbgrader's
   release_feedback, one after the other in a fresh course, as an instructor runs them;
   each learner then waits from their submit until the release is over.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.authoring.samples import fill, lesson_paths
from autograder.config import COURSE_ID
from autograder.grading.benchmark import wrong_answers
from autograder.grading.learner_side import publish, submit

LESSONS = ("02_derivatives", "03_chain_rule", "04_computational_graph")


def journal(out: Path) -> list[dict]:
    path = out / "service" / "journal.jsonl"
    found = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            found.append(json.loads(line))
        except ValueError:
            pass
    return found


def released(out: Path) -> dict[str, float]:
    return {e["id"]: e["at"] for e in journal(out) if e["e"] == "released"}


def wait_released(out: Path, ids: set[str], proc: subprocess.Popen, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = released(out)
        if ids <= set(done):
            return done
        if proc.poll() is not None:
            sys.exit(f"course serve ended:\n{(out.parent / 'serve.log').read_text()[-3000:]}")
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {len(ids - set(released(out)))} submission(s)")


def answers(lessons: list[str]) -> dict[str, dict[str, nbformat.NotebookNode]]:
    made = {}
    for lesson in lessons:
        solution_path, released_path = lesson_paths(lesson)
        solution = nbformat.read(solution_path, as_version=4)
        blank = nbformat.read(released_path, as_version=4)
        made[lesson] = {
            "name": solution_path.name,
            "correct": fill(blank, solution),
            "wrong": fill(blank, solution, wrong_answers(solution)),
            "blank": blank,
        }
    return made


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def by_hand(exchange: Path, base: Path, lessons: list[str], workers: int) -> dict[str, float]:
    """collect, course grade, release_feedback: an instructor's three commands."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from autograder.grading import inbound
    from autograder.grading.gradebook import nbgrader_config

    course = base / "collected"
    course.mkdir(parents=True)
    config = nbgrader_config(course, f"sqlite:///{base / 'collect.db'}")
    config.Exchange.root = str(exchange)
    times = {}
    start = time.perf_counter()
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    for lesson in lessons:
        api.collect(lesson)
    times["collect"] = time.perf_counter() - start
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "grade", "--quiet", str(course / "submitted"),
         "--out", str(base / "out"), "--workers", str(workers)],
        capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode not in (0, 1):
        sys.exit(f"course grade failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    times["course grade"] = time.perf_counter() - start
    start = time.perf_counter()
    release_config = inbound.exchange_config(
        base / "out" / "course", f"sqlite:///{base / 'out' / 'gradebook.db'}", exchange, COURSE_ID
    )
    for lesson in lessons:
        inbound.release(base / "out" / "course", "", lesson, release_config)
    times["release_feedback"] = time.perf_counter() - start
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--within", type=float, default=10.0, help="seconds the burst spans")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lessons", nargs="+", default=list(LESSONS))
    args = parser.parse_args(argv)
    made = answers(args.lessons)
    base = Path(tempfile.mkdtemp(prefix="service-bench-"))
    exchange, out = base / "exchange", base / "service"
    for lesson in args.lessons:
        publish(exchange, lesson)
    with (base / "serve.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.cli", "serve", "--exchange", str(exchange),
             "--out", str(out), "--workers", str(args.workers), "--per-hour", "1000",
             "--lessons", *args.lessons],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        began = time.perf_counter()
        first = args.lessons[0]
        sid = submit(
            exchange, base / "lone", "lone", first, made[first]["correct"], made[first]["name"]
        )
        t0 = time.time()
        cold = wait_released(out, {sid}, proc, 300)[sid] - t0
        startup = time.perf_counter() - began
        t0 = time.time()
        sid = submit(
            exchange, base / "lone", "lone", first, made[first]["wrong"], made[first]["name"]
        )
        lone = wait_released(out, {sid}, proc, 60)[sid] - t0
        sent: dict[str, float] = {}
        kinds = ("correct", "wrong", "blank")
        burst_start = time.time()
        for i in range(args.learners):
            lesson = args.lessons[i % len(args.lessons)]
            due = burst_start + i * args.within / max(1, args.learners - 1)
            time.sleep(max(0.0, due - time.time()))
            nb = made[lesson][kinds[(i // len(args.lessons)) % 3]]
            sid = submit(
                exchange, base / f"home{i:02d}", f"learner{i:02d}", lesson, nb, made[lesson]["name"]
            )
            sent[sid] = time.time()
        done = wait_released(out, set(sent), proc, 600)
        burst_end = max(done[s] for s in sent)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    latency = [done[s] - sent[s] for s in sent]
    hand = by_hand(exchange, base / "by-hand", args.lessons, args.workers)
    hand_total = sum(hand.values())
    last_sent = max(sent.values())
    hand_latency = [last_sent - sent[s] + hand_total for s in sent]

    print(f"\n{args.learners} learners within {args.within:g} s, {args.workers} workers, "
          f"lessons {', '.join(args.lessons)} ({os.cpu_count()} cores)")  # fmt: skip
    print(f"service start (prepare + preload) and first submission: {startup:.1f} s "
          f"(that submission: {cold:.2f} s)")  # fmt: skip
    print(f"{'':34s}{'p50':>8s}{'p95':>8s}{'max':>8s}")
    print(f"{'lone submission, service':34s}{lone:8.2f}{lone:8.2f}{lone:8.2f}")
    print(
        f"{'burst, service':34s}{percentile(latency, 0.5):8.2f}"
        f"{percentile(latency, 0.95):8.2f}{max(latency):8.2f}"
    )
    print(
        f"{'burst, by hand (after the last)':34s}{percentile(hand_latency, 0.5):8.2f}"
        f"{percentile(hand_latency, 0.95):8.2f}{max(hand_latency):8.2f}"
    )
    print(f"service: burst done {burst_end - last_sent:.1f} s after the last submit")
    print("by hand: " + ", ".join(f"{k} {v:.1f} s" for k, v in hand.items())
          + f" = {hand_total:.1f} s once the last learner has submitted")  # fmt: skip
    print(f"(files: {base})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
