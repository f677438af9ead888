"""``course grade``: autograde many submissions in parallel, on top of nbgrader.

Each submission goes through nbgrader's own Autograde converter (its sanitizing and
autograding preprocessors, its gradebook) and GenerateFeedback; what changes is how:

- N worker processes grade N submissions at once (:mod:`autograder.grading.executors`;
  on a Dask cluster, :mod:`autograder.grading.cluster`);
- kernels are forked from a process that has already imported torch
  (:mod:`autograder.grading.forkkernel`), each confined by a :class:`~autograder.grading.forkserver.Sandbox`;
- nbgrader's per-connection ``alembic heads`` subprocess is asked once per worker;
- a state file records what was graded, so a second run grades only what is new or
  changed, and a run killed half-way resumes where it stopped.

Submissions are copied, never modified in place. The parts live beside this module:
discovery, gradebook, confinement, state, signals, worker, executors.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder.config import ROOT
from autograder.grading import speedups
from autograder.grading.confinement import default_sandbox, default_threads, sandbox_supported
from autograder.grading.discovery import discover, unpack
from autograder.grading.executors import LocalPool, progress_bar, run_loop
from autograder.grading.gradebook import (
    add_students,
    check_gradebook,
    course_config_text,
    prepare_course,
)
from autograder.grading.jobs import DEFAULT_LIMITS, Job, Limits, Result
from autograder.grading.signals import STOP_SIGNALS, Interrupted, stopped_by_signals
from autograder.grading.state import load_state, save_state

# What callers of the single module used before the split still find here.
__all__ = [
    "Interrupted",
    "Job",
    "Limits",
    "Result",
    "Summary",
    "check_gradebook",
    "course_config_text",
    "grade",
    "prepare_while_preloading",
]


def prepare_while_preloading(
    course: Path, assignments: list[str], db_url: str, state: dict, root: Path = ROOT
) -> None:
    """:func:`prepare_course` in a forked process, while this one imports what the local
    workers' kernels need. Each takes one to two seconds before the first submission
    can start, and they can use two cores."""
    from autograder.grading import forkserver

    # Forked with the stop signals held, and the child keeps them held: this process
    # handles them, and the child's seconds of work end on their own.
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        pool = cf.ProcessPoolExecutor(1, mp_context=mp.get_context("fork"))
        future = pool.submit(
            _prepared_sources, course, assignments, db_url, state, root, os.getpid()
        )
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    with pool:
        forkserver.preload()
        state["sources"] = future.result()


def _prepared_sources(
    course: Path, assignments: list[str], db_url: str, state: dict, root: Path, grader: int
) -> dict:
    from autograder.grading.forkserver import die_with_parent

    die_with_parent(grader)
    prepare_course(course, assignments, db_url, state, root)
    return state["sources"]


@dataclass
class Summary:
    graded: list[Result]
    skipped: int
    problems: list[str]
    seconds: float
    out: Path


def grade(
    submitted: Path,
    out: Path,
    *,
    workers: int | None = None,
    db_url: str | None = None,
    sandbox: bool = True,
    progress: bool = True,
    limits: Limits = DEFAULT_LIMITS,
    root: Path = ROOT,
    threads: int | None = None,
    scheduler: str | None = None,
) -> Summary:
    """Grade every new or changed submission under ``submitted`` into ``out``.

    A signal (Ctrl-C, SIGTERM, SIGHUP) raises :class:`Interrupted` once the workers are
    ended; what was graded stays in the gradebook and the state file, and the same call
    again grades the rest.
    """
    with stopped_by_signals():
        return _grade(
            submitted, out, workers, db_url, sandbox, progress, limits, root, threads, scheduler
        )


def _grade(
    submitted, out, workers, db_url, sandbox, progress, limits, root, threads, scheduler
) -> Summary:
    from autograder.authoring.release import lessons

    start = time.monotonic()
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file: give a folder")
    if not submitted.exists():
        raise FileNotFoundError(f"{submitted} does not exist")
    out.mkdir(parents=True, exist_ok=True)
    db_url = db_url or f"sqlite:///{out / 'gradebook.db'}"
    check_gradebook(db_url)
    submitted = unpack(submitted, out / "unpacked")
    if scheduler:
        from autograder.grading.cluster import check_db

        check_db(db_url)
    state = load_state(out)
    if state.get("db_url") not in (None, db_url):
        state = {"sources": {}}  # another gradebook: grade everything again
    state["db_url"] = db_url
    jobs, problems = discover(submitted, set(lessons(root)))
    state["total"] = len(jobs)
    if sandbox and not sandbox_supported():
        problems.append(
            "kernels run with memory and file-size limits only: the sandbox needs root on Linux "
            "(answers are still verified outside the learner's kernel)"
        )
    assignments = sorted({j.assignment for j in jobs})
    speedups.apply()
    state["phase"] = "preparing"
    if scheduler:
        prepare_course(out / "course", assignments, db_url, state, root)
    else:
        prepare_while_preloading(out / "course", assignments, db_url, state, root)
    add_students(db_url, sorted({j.student for j in jobs}))
    state["phase"] = "grading"
    state["timing"] = {"start": round(time.monotonic() - start, 2)}
    save_state(out, state)

    done = state.setdefault("graded", {})
    todo = [
        j
        for j in jobs
        if done.get(j.key, {}).get("digest") != j.digest or not done[j.key].get("ok")
    ]
    skipped = len(jobs) - len(todo)
    results: list[Result] = []
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    if todo:
        results = _run_pool(
            todo, out, db_url, workers, sandbox, submitted, progress, state, limits, root, threads,
            scheduler,
        )  # fmt: skip
    from autograder.grading.export import export

    state["phase"] = "exporting"
    state["timing"]["grading"] = round(time.monotonic() - start - state["timing"]["start"], 2)
    save_state(out, state)
    export(out, db_url, state)
    state["phase"] = "done"
    state["timing"]["export"] = round(time.monotonic() - start - sum(state["timing"].values()), 2)
    save_state(out, state)
    return Summary(results, skipped, problems, time.monotonic() - start, out)


def _run_pool(
    todo, out, db_url, workers, sandbox, submitted, progress, state, limits, root, threads,
    scheduler=None,
) -> list[Result]:  # fmt: skip
    if scheduler:
        from autograder.grading.cluster import DaskPool

        backend = DaskPool(scheduler, out, db_url, sandbox, limits, threads)
    else:
        box = default_sandbox(out, submitted, db_url, limits, root) if sandbox else None
        backend = LocalPool(out, db_url, box, limits, threads or default_threads(workers), workers)

    def record(job: Job, result: Result) -> None:
        state["graded"][job.key] = {k: v for k, v in asdict(result).items() if k != "student"}
        save_state(out, state)

    try:
        return run_loop(todo, backend, record, progress_bar(len(todo), progress))
    finally:
        backend.close()
