"""The one seam every executor grades through, and the local one.

An executor takes :class:`~autograder.grading.jobs.Job` s and gives back
:class:`~autograder.grading.jobs.Result` s; :func:`run_loop` (``course grade``) and the
grading service (:mod:`autograder.grading.service`) drive any of them the same way:

- ``open()`` before submitting, and again after a lost worker broke the executor;
- ``submit(job)`` returns a :class:`concurrent.futures.Future`;
- ``receive(job, value)`` turns the future's value into a ``Result`` (the Dask executor
  writes the feedback pages it brings back);
- ``lost``: the exceptions that mean the worker died, not the submission: grade it again;
- ``end(failed)`` after a batch (kill the workers when ``failed``), ``close()`` at the end.

:class:`LocalPool` forks its workers from this process, :class:`~autograder.grading.cluster.DaskPool`
sends jobs to a Dask cluster.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from autograder.grading.jobs import Job, Limits, Result, lost_result
from autograder.grading.signals import STOP_SIGNALS
from autograder.grading.worker import grade_one, init_worker

MAX_TRIES = 3


class Executor(Protocol):
    lost: tuple[type[BaseException], ...]

    def open(self) -> None: ...

    def submit(self, job: Job) -> cf.Future: ...

    def receive(self, job: Job, value: Any) -> Result: ...

    def end(self, failed: bool) -> None: ...

    def close(self) -> None: ...


class LocalPool:
    """Worker processes forked from this grader, each with its own kernel fork server.

    The workers stay up between jobs (warm: torch, nbgrader and the references imported
    once), until ``end``."""

    lost: tuple[type[BaseException], ...] = (BrokenProcessPool,)

    def __init__(
        self,
        out,
        db_url: str,
        box: dict | None,
        limits: Limits,
        threads: int | None,
        workers: int,
        course=None,
    ) -> None:
        # Workers are forks of this process once it has imported what grading and kernels
        # need: no worker imports torch or nbgrader again.
        from autograder.grading import forkkernel, forkserver, preprocessors  # noqa: F401

        forkserver.preload()
        scratch = forkkernel.kernels_folder()
        self.scratch = scratch
        self.workers = workers
        self.initargs = (
            str(course or out / "course"),
            db_url,
            box,
            str(scratch),
            limits,
            threads,
            os.getpid(),
        )
        self.pool: cf.ProcessPoolExecutor | None = None

    def open(self) -> None:
        """A fresh pool (also after a worker died, which breaks the old one)."""
        self.pool = cf.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=mp.get_context("fork"),
            initializer=init_worker,
            initargs=self.initargs,
        )

    def submit(self, job: Job) -> cf.Future:
        # The first submit forks the workers. A stop signal handled during a fork would
        # raise inside the fork hooks (logging's), where Python prints and drops it, and in
        # the child before it can ignore it: hold the signals until the forks are done.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            return self.pool.submit(grade_one, job)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def receive(self, job: Job, value: Result) -> Result:
        return value

    def end(self, failed: bool) -> None:
        """Shut the pool down; on a signal or an error, kill its workers at once.

        Their fork servers and kernels follow them (each dies with its parent), so
        nothing waits for a notebook to finish.
        """
        pool, self.pool = self.pool, None
        if pool is None:
            return
        if failed:
            processes = list((getattr(pool, "_processes", None) or {}).values())
            for process in processes:
                with contextlib.suppress(Exception):
                    process.kill()
            for process in processes:
                with contextlib.suppress(Exception):
                    process.join(2)
            pool.shutdown(wait=False, cancel_futures=True)
        else:
            pool.shutdown(wait=True)

    def close(self) -> None:
        self.end(failed=True)
        # What the workers' last kernels (started ahead, never used) left behind.
        from autograder.grading.forkkernel import remove_kernels_folder

        remove_kernels_folder(self.scratch)


def run_loop(
    todo: list[Job],
    backend: Executor,
    record: Callable[[Job, Result], None],
    bar,
) -> list[Result]:
    """Submit every job, ``record`` each result as it comes; a job whose worker was lost
    is graded again (at most :data:`MAX_TRIES` tries), locally or on a cluster alike."""
    results = []
    pending = list(todo)
    attempts: dict[str, int] = {}
    while pending:
        backend.open()
        try:
            futures = {backend.submit(job): job for job in pending}
            pending = []
            for future in cf.as_completed(futures):
                job = futures[future]
                try:
                    result = backend.receive(job, future.result())
                except backend.lost:
                    attempts[job.key] = attempts.get(job.key, 0) + 1
                    if attempts[job.key] < MAX_TRIES:
                        pending.append(job)
                        continue
                    result = lost_result(job)
                results.append(result)
                record(job, result)
                bar.update(1)
                bar.set_postfix_str(
                    f"{job.key} {result.score:g}/{result.max_score:g}", refresh=False
                )
        except BaseException:
            backend.end(failed=True)
            raise
        backend.end(failed=False)
    bar.close()
    return results


def progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: workers are forked from this process
    return tqdm(
        total=total, unit="submission", disable=not enabled, file=sys.stderr, dynamic_ncols=True
    )
