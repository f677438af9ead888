"""One grading worker: its start (a kernel fork server of its own, the sandbox, signals
left to the grader) and :func:`grade_one`, nbgrader's autograde and feedback for one
submission. Every executor (local pool, Dask worker, grading service) runs this."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import time
import traceback
from pathlib import Path

import nbformat

from autograder.config import RELEASE_DIR
from autograder.grading import notes, speedups
from autograder.grading.gradebook import nbgrader_config
from autograder.grading.jobs import Job, Limits, Result
from autograder.grading.signals import STOP_SIGNALS

MAX_NOTEBOOK_BYTES = 20 << 20
GRADING_ENV = "COURSE_GRADING"

# This process's grading context: the course folder, the gradebook, the sandbox, the limits.
WORKER: dict = {}


def init_worker(
    course: str,
    db_url: str,
    sandbox: dict | None,
    scratch: str,
    limits: Limits,
    threads: int | None = None,
    grader: int | None = None,
) -> None:
    # Signals sent to the grader's process group are the grader's to handle: it stops
    # the run and ends its workers itself. The worker was forked with them blocked
    # (LocalPool.submit), so none can reach the grader's handler here before this.
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    import warnings

    from autograder.grading import forkkernel
    from autograder.grading.forkserver import Sandbox, die_with_parent, threads_for_torch

    if grader is not None:
        die_with_parent(grader)  # no worker outlives the grader, however it ends
    warnings.filterwarnings("ignore")  # nbgrader's SQLAlchemy warnings would bury the progress bar
    logging.disable(logging.WARNING)
    speedups.apply()
    box = Sandbox(**sandbox) if sandbox is not None else None
    # The kernels inherit it: progress() has no learner to show a scoreboard to there.
    os.environ[GRADING_ENV] = "1"
    # Forked from the grader, this worker has torch loaded and no threads yet: its fork
    # server can be a fork of it too, with nothing left to import.
    forkkernel.start_server(box, Path(scratch), fork=True, threads=threads)
    # Only now, with the server forked: the answers are verified here with torch.
    threads_for_torch(threads)
    WORKER.update(course=Path(course), db_url=db_url, sandbox=box, limits=limits)


def grade_one(job: Job) -> Result:
    """Autograde one submission and make its feedback (runs in a worker)."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from autograder.grading.execute import TIMES

    start = time.monotonic()
    course: Path = WORKER["course"]
    db_url: str = WORKER["db_url"]
    result = Result(job.student, job.assignment, job.digest, ok=False)
    clock = _Clock(result.phases)
    TIMES.clear()
    try:
        copy_submission(job, course)
        config = nbgrader_config(course, db_url, limits=WORKER["limits"])
        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        api.log.setLevel(logging.ERROR)
        clock("copy")
        graded = api.autograde(job.assignment, job.student, force=True, create=True)
        clock("autograde")
        if not graded["success"]:
            result.notes.append("autograde failed: " + _last_error(graded))
        for nb_path in sorted(
            (course / "autograded" / job.student / job.assignment).glob("*.ipynb")
        ):
            autograded = nbformat.read(nb_path, as_version=4)
            found = notes.of(autograded)
            if found:
                result.notes.append(f"{nb_path.stem}: {notes.log_line(found)}")
            for verdict in notes.verdicts_of(autograded):
                cell = verdict.pop("cell")
                verdict.pop("message", None)  # the feedback page's, not the class view's
                result.verdicts[f"{nb_path.stem}:{cell}"] = verdict
        clock("notes")
        feedback = api.generate_feedback(job.assignment, job.student, force=True)
        if not feedback["success"]:
            result.notes.append("feedback failed: " + _last_error(feedback))
        fb_dir = course / "feedback" / job.student / job.assignment
        result.feedback = [str(p) for p in sorted(fb_dir.glob("*.html"))] if fb_dir.is_dir() else []
        clock("feedback")
        with Gradebook(db_url, config.CourseDirectory.course_id) as gb:
            try:
                sub = gb.find_submission(job.assignment, job.student)
                result.score, result.max_score = float(sub.score or 0), float(sub.max_score or 0)
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        if grade.max_score:
                            result.cells[f"{nb.name}:{grade.name}"] = [
                                float(grade.score or 0),
                                float(grade.max_score),
                            ]
            except MissingEntry:
                result.notes.append("no submission in the gradebook")
        clock("gradebook")
        result.ok = graded["success"]
    except Exception:
        result.notes.append(
            "grader error: " + traceback.format_exc(limit=3).strip().splitlines()[-1]
        )
    # The kernel's share of autograde: starting and stopping it, and the cells themselves.
    if "autograde" in result.phases and TIMES:
        result.phases["cells"] = round(TIMES.get("cells", 0.0), 3)
        result.phases["kernel"] = round(TIMES.get("kernel", 0.0), 3)
        result.phases["autograde"] = round(
            result.phases["autograde"] - TIMES.get("cells", 0.0) - TIMES.get("kernel", 0.0), 3
        )
    result.seconds = time.monotonic() - start
    return result


def copy_submission(job: Job, course: Path) -> Path:
    """The submission as graded, in ``course/submitted/<student>/<assignment>/``: what
    nbgrader autogrades there and what the class view's similarity report reads later."""
    target = course / "submitted" / job.student / job.assignment
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        job.folder, target, symlinks=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints")
    )
    replace_unreadable(target, course / RELEASE_DIR / job.assignment)
    return target


class _Clock:
    """Record the seconds since the previous call under each name."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into = into
        self.last = time.monotonic()

    def __call__(self, name: str) -> None:
        now = time.monotonic()
        self.into[name] = round(self.into.get(name, 0.0) + now - self.last, 3)
        self.last = now


def replace_unreadable(folder: Path, released: Path) -> None:
    """A notebook that cannot be read is graded as the blank lesson, with a note saying why."""
    for path in sorted(folder.glob("*.ipynb")):
        reason = None
        if path.is_symlink() or not path.is_file():
            reason = "not a regular file"
        elif path.stat().st_size > MAX_NOTEBOOK_BYTES:
            reason = f"larger than {MAX_NOTEBOOK_BYTES >> 20} MB"
        else:
            try:
                nb = nbformat.read(path, as_version=4)
                nbformat.validate(nb)
                nbformat.write(nb, path)  # an old nbformat is upgraded here
                continue
            except Exception as exc:
                reason = f"{type(exc).__name__}: {str(exc)[:120]}"
        blank = released / path.name
        path.unlink()
        if blank.is_file():
            nb = nbformat.read(blank, as_version=4)
            notes.add(nb, "unreadable", reason)
            nbformat.write(nb, path)
    # nbgrader scores a missing notebook 0 only if another one is there; otherwise it fails.
    expected = sorted(released.glob("*.ipynb"))
    if expected and not any((folder / p.name).is_file() for p in expected):
        found = ", ".join(sorted(p.name for p in folder.glob("*.ipynb"))) or "none"
        for blank in expected:
            nb = nbformat.read(blank, as_version=4)
            notes.add(nb, "missing-notebook", f"found: {found}")
            nbformat.write(nb, folder / blank.name)


def _last_error(response: dict) -> str:
    """The most telling line of a failed nbgrader call, for the instructor's log."""
    logged = [ln for ln in (response.get("log") or "").splitlines() if "[ERROR]" in ln]
    raised = [ln for ln in (response.get("error") or "").strip().splitlines() if ln.strip()]
    generic = ("Please see", "There was an error", "raise NbGraderException")
    # nbgrader logs the cause first and then wraps it in generic messages.
    telling = [ln for ln in logged if not any(g in ln for g in generic)][:1]
    telling += [ln for ln in raised if not any(g in ln for g in generic)][-1:]
    return ((telling or logged + raised or ["unknown error"])[0]).strip()[:300]
