"""``course grade``: autograde many submissions in parallel, on top of nbgrader.

Each submission goes through nbgrader's own Autograde converter (its sanitizing and
autograding preprocessors, its gradebook) and GenerateFeedback; what changes is how:

- N worker processes grade N submissions at once;
- kernels are forked from a process that has already imported torch
  (:mod:`autograder.grading.forkkernel`), each confined by a :class:`~autograder.grading.forkserver.Sandbox`;
- nbgrader's per-connection ``alembic heads`` subprocess is asked once per worker;
- a state file records what was graded, so a second run grades only what is new or
  changed, and a run killed half-way resumes where it stopped.

Submissions are copied, never modified in place.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import json
import logging
import multiprocessing as mp
import os
import shutil
import signal
import sys
import time
import traceback
import zipfile
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from autograder.config import RELEASE_DIR, ROOT, SOURCE_DIR
from autograder.grading import notes, speedups

STATE_FILE = "state.json"
MAX_ZIP_BYTES = 2 << 30
MAX_NOTEBOOK_BYTES = 20 << 20


@dataclass(frozen=True)
class Job:
    student: str
    assignment: str
    folder: str  # the submission folder as given (read only)
    digest: str

    @property
    def key(self) -> str:
        return f"{self.student}/{self.assignment}"


@dataclass
class Result:
    student: str
    assignment: str
    digest: str
    ok: bool
    score: float = 0.0
    max_score: float = 0.0
    cells: dict[str, list[float]] = field(default_factory=dict)  # grade_id -> [score, max]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    feedback: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step, in the worker
    # "<notebook>:<grade_id>" -> the grader's verdict there (notes.set_verdict): the class view
    verdicts: dict[str, dict] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.student}/{self.assignment}"


# ---------------------------------------------------------------- discovering submissions


def safe_name(name: str) -> bool:
    return (
        bool(name)
        and name not in (".", "..")
        and "/" not in name
        and "\x00" not in name
        and not name.startswith(".")
    )


def unpack(submitted: Path, dest: Path) -> Path:
    """A .zip of the nbgrader layout is extracted (safely) into ``dest``; a folder is used as is."""
    if submitted.is_dir():
        return submitted
    if not zipfile.is_zipfile(submitted):
        raise ValueError(f"{submitted} is neither a folder nor a .zip file")
    with zipfile.ZipFile(submitted) as zf:
        total = 0
        for info in zf.infolist():
            parts = Path(info.filename).parts
            if info.filename.startswith("/") or ".." in parts:
                raise ValueError(f"{submitted}: unsafe path in archive: {info.filename!r}")
            total += info.file_size
            if total > MAX_ZIP_BYTES:
                raise ValueError(f"{submitted}: archive expands to more than {MAX_ZIP_BYTES} bytes")
        shutil.rmtree(dest, ignore_errors=True)
        zf.extractall(dest)
    # A zip of the folder itself holds one top-level directory around the layout.
    if not looks_like_layout(dest):
        inner = [
            p for p in dest.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX"))
        ]
        if len(inner) == 1 and looks_like_layout(inner[0]):
            return inner[0]
    return dest


def looks_like_layout(folder: Path) -> bool:
    """Does ``folder`` hold ``<student>/<assignment>/<notebook>.ipynb``?"""
    return any(folder.glob("*/*/*.ipynb"))


def folder_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink() and ".ipynb_checkpoints" not in path.parts:
            h.update(str(path.relative_to(folder)).encode())
            h.update(b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def discover(submitted: Path, assignments: set[str]) -> tuple[list[Job], list[str]]:
    """Submissions in ``<student>/<assignment>/`` and the problems met on the way."""
    jobs, problems = [], []
    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
        if not safe_name(student_dir.name):
            problems.append(f"skipped folder with an unusable name: {student_dir.name!r}")
            continue
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if assignment_dir.name not in assignments:
                if not assignment_dir.name.startswith("."):
                    problems.append(
                        f"{student_dir.name}: unknown assignment {assignment_dir.name!r} (not in {SOURCE_DIR}/)"
                    )
                continue
            jobs.append(
                Job(
                    student_dir.name,
                    assignment_dir.name,
                    str(assignment_dir),
                    folder_digest(assignment_dir),
                )
            )
    return jobs, problems


# ---------------------------------------------------------------- the scratch course


def course_config_text(db_url: str) -> str:
    return (
        "from pathlib import Path\n"
        "from autograder.config import configure\n\n"
        "c = get_config()  # noqa: F821\n"
        "configure(c, Path(__file__).resolve().parent)\n"
        f"c.CourseDirectory.db_url = {db_url!r}\n"
    )


def check_gradebook(db_url: str) -> None:
    """A clear error, before any work, for a gradebook that cannot be used (the password is
    never shown)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        url = make_url(db_url)
    except ArgumentError:
        raise ValueError(
            f"--db {db_url!r} is not a database URL: "
            "sqlite:///FILE or postgresql://USER@HOST:PORT/DB"
        ) from None
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"the gradebook must be SQLite or PostgreSQL, not {shown}")
    # A server that drops packets would otherwise hold the grader for minutes.
    wait = {"connect_timeout": 10} if url.get_backend_name() == "postgresql" else {}
    try:
        engine = create_engine(url, connect_args=wait)
        with engine.connect():
            pass
        engine.dispose()
    except (SQLAlchemyError, ImportError) as exc:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        raise ValueError(f"cannot open the gradebook {shown}: {reason}") from None


def sqlite_path(db_url: str) -> Path | None:
    if db_url.startswith("sqlite:///"):
        return Path(db_url.removeprefix("sqlite:///").split("?")[0])
    return None


@dataclass(frozen=True)
class Limits:
    cell_seconds: int = 60
    notebook_seconds: int = 600
    memory_bytes: int = 2 << 30


def nbgrader_config(course: Path, db_url: str, fast: bool = True, limits: Limits = Limits()):
    from traitlets.config import Config

    from autograder.config import AUTOGRADE_PREPROCESSORS, configure

    c = configure(Config(), course)
    c.CourseDirectory.db_url = db_url
    c.Execute.timeout = limits.cell_seconds
    c.SafeExecute.notebook_timeout = limits.notebook_seconds
    # Check the notebook once after all of a step's preprocessors, not after each (~0.2 s).
    c.Exporter.optimistic_validation = True
    if fast:
        c.Autograde.autograde_preprocessors = [
            "autograder.grading.forkkernel.ForkExecute"
            if p == "autograder.grading.execute.SafeExecute"
            else p
            for p in AUTOGRADE_PREPROCESSORS
        ]
    return c


def prepare_course(
    course: Path, assignments: list[str], db_url: str, state: dict, root: Path = ROOT
) -> None:
    """Copy the sources and (re)generate each assignment in the gradebook when its source changed."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    course.mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(course_config_text(db_url))
    config = nbgrader_config(course, db_url, fast=False)
    sources = state.setdefault("sources", {})
    for assignment in assignments:
        src = root / SOURCE_DIR / assignment
        digest = folder_digest(src)
        if sources.get(assignment) == digest and (course / SOURCE_DIR / assignment).is_dir():
            continue
        shutil.rmtree(course / SOURCE_DIR / assignment, ignore_errors=True)
        shutil.copytree(src, course / SOURCE_DIR / assignment)
        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        api.log.setLevel(logging.ERROR)
        result = api.generate_assignment(assignment, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(
                f"cannot prepare {assignment} in the gradebook:\n{result['log']}{result.get('error', '')}"
            )
        sources[assignment] = digest


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


def add_students(db_url: str, students: list[str]) -> None:
    """Every student in the gradebook before the workers start: two workers grading one
    student's lessons at once would both create the student, and one would fail."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        for student in students:
            gb.update_or_create_student(student)


# ---------------------------------------------------------------- workers

_worker: dict = {}


def _init_worker(
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
    _worker.update(course=Path(course), db_url=db_url, sandbox=box, limits=limits)


GRADING_ENV = "COURSE_GRADING"


def grade_one(job: Job) -> Result:
    """Autograde one submission and make its feedback (runs in a worker)."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from autograder.grading.execute import TIMES

    start = time.monotonic()
    course: Path = _worker["course"]
    db_url: str = _worker["db_url"]
    result = Result(job.student, job.assignment, job.digest, ok=False)
    clock = _Clock(result.phases)
    TIMES.clear()
    try:
        target = course / "submitted" / job.student / job.assignment
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(
            job.folder, target, symlinks=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints")
        )
        replace_unreadable(target, course / RELEASE_DIR / job.assignment)
        config = nbgrader_config(course, db_url, limits=_worker["limits"])
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


# ---------------------------------------------------------------- state and the run


def load_state(out: Path) -> dict:
    try:
        return json.loads((out / STATE_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def save_state(out: Path, state: dict) -> None:
    """Write the whole state, then rename it over the old one: a reader never sees half."""
    tmp = out / f".{STATE_FILE}.tmp"
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, out / STATE_FILE)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(Exception):
    """The run was stopped by a signal; what was graded is kept."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, frame) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def stopped_by_signals():
    """Ctrl-C, SIGTERM and SIGHUP raise :class:`Interrupted` in the grader (main thread only)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise_interrupted) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def default_threads(workers: int) -> int:
    """Torch threads per kernel and worker: the cores this process may use, shared out."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // max(1, workers))


def sandbox_supported() -> bool:
    """Namespaces need root here; elsewhere kernels run unconfined (with a warning)."""
    return os.geteuid() == 0 and sys.platform.startswith("linux")


def default_sandbox(
    out: Path, submitted: Path, db_url: str, limits: Limits, root: Path = ROOT
) -> dict | None:
    if not sandbox_supported():
        return None
    hide = [
        str(root / SOURCE_DIR),
        str(out / "course"),
        str(out / "feedback"),
        str(submitted.resolve()),
    ]
    for db in (sqlite_path(db_url), root / "gradebook.db"):
        if db is not None and db.exists():
            hide.append(str(db.resolve()))
    return asdict(kernel_sandbox(sorted(set(hide)), limits.memory_bytes, root))


def kernel_sandbox(hide: list[str], memory_bytes: int, root: Path = ROOT):
    """The confinement of every grading kernel, local or on a Dask worker alike."""
    from autograder.grading.forkserver import Sandbox

    return Sandbox(
        hide=sorted({*hide, *kernel_secrets(root)}),
        no_network=True,
        isolate=True,
        memory_bytes=memory_bytes,
        max_processes=64,
        max_file_bytes=64 << 20,
        private_tmp=True,
        keep=kernel_needs(root),
    )


def kernel_secrets(root: Path = ROOT) -> list[str]:
    """What in the course folder would answer an exercise: no grading kernel may read it.

    The references and the catalogue of mistakes (``course_utils/exercises``), the tests and
    their corpora of answers, and git's history, which holds every solution ever written.
    The kernel keeps what the lessons import: ``course_utils``' messages, plots, graphs, the
    objects handed to a learner's function, and the harness the grader drives.
    """
    found = [root / "course_utils" / "exercises", root / "tests", root / ".git"]
    return [str(p.resolve()) for p in found if p.exists()]


def kernel_needs(root: Path = ROOT) -> list[str]:
    """Folders a kernel must still read: the course, this Python, its packages."""
    paths = {
        str(root),
        sys.prefix,
        sys.base_prefix,
        *(p for p in sys.path if p and Path(p).is_dir()),
    }
    return sorted(str(Path(p).resolve()) for p in paths)


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
    limits: Limits = Limits(),
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
            "kernels run unconfined: the sandbox needs root on Linux "
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
    try:
        return _run_loop(todo, backend, out, state, _progress_bar(len(todo), progress))
    finally:
        backend.close()


class LocalPool:
    """Worker processes forked from this grader, each with its own kernel fork server."""

    lost: tuple[type[BaseException], ...] = (BrokenProcessPool,)

    def __init__(self, out, db_url, box, limits, threads, workers) -> None:
        # Workers are forks of this process once it has imported what grading and kernels
        # need: no worker imports torch or nbgrader again.
        from autograder.grading import forkkernel, forkserver, preprocessors  # noqa: F401

        forkserver.preload()
        scratch = forkkernel.kernels_folder()
        self.scratch = scratch
        self.workers = workers
        self.initargs = (
            str(out / "course"),
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
            initializer=_init_worker,
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


def _run_loop(todo: list[Job], backend, out: Path, state: dict, bar) -> list[Result]:
    """Submit every job, record each result as it comes; a job whose worker was lost is
    graded again (at most three tries), locally or on a cluster alike."""
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
                    if attempts[job.key] < 3:
                        pending.append(job)
                        continue
                    result = Result(
                        job.student,
                        job.assignment,
                        job.digest,
                        ok=False,
                        notes=["grader-error(worker died)"],
                    )
                results.append(result)
                state["graded"][job.key] = {
                    k: v for k, v in asdict(result).items() if k != "student"
                }
                save_state(out, state)
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


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: workers are forked from this process
    return tqdm(
        total=total, unit="submission", disable=not enabled, file=sys.stderr, dynamic_ncols=True
    )
