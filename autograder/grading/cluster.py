"""``course grade --scheduler tcp://HOST:8786``: grade on the workers of a Dask cluster.

The grader keeps the loop it runs locally (:func:`autograder.grading.executors.run_loop`); only
the executor changes, from a pool of forked workers to ``Client.get_executor(pure=False)``.
What travels:

- to a worker: the submission folder as zip bytes, the released lesson (blank notebooks
  for submissions that cannot be read) as zip bytes, the gradebook URL and the limits;
- back: the :class:`~autograder.grading.jobs.Result` as a dict and the feedback pages
  as bytes, which the grader writes where local workers would have; the grader keeps its
  own copy of each graded submission there too (the similarity report reads it).

Each Dask worker gets, once, through :class:`GradingPlugin`: a scratch course folder, a
folder for its kernels and a kernel fork server. Dask workers run threads, so the server
is a new Python started with ``fork`` + ``exec`` (not a fork of the worker); it dies with
the worker. The gradebook must be a server every worker reaches (PostgreSQL): a SQLite
file lives on one disk.
Workers whose Python, packages or course code differ from the grader's are refused.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import socket
import sys
import tempfile
import threading
import zipfile
from dataclasses import asdict
from pathlib import Path

from autograder.config import RELEASE_DIR, ROOT

PLUGIN_NAME = "course-grading"
PACKAGES = ("torch", "nbgrader", "nbclient", "ipykernel", "dask", "distributed", "sqlalchemy")


class ClusterError(ValueError):
    """The cluster cannot grade (wrong gradebook, mismatched workers, no workers)."""


def zip_folder(folder: Path, skip: tuple[str, ...] = (".ipynb_checkpoints",)) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink() and not set(path.parts) & set(skip):
                zf.write(path, path.relative_to(folder))
    return buffer.getvalue()


def unzip_to(data: bytes, folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            parts = Path(info.filename).parts
            if info.filename.startswith("/") or ".." in parts:
                raise ValueError(f"unsafe path in archive: {info.filename!r}")
        zf.extractall(folder)


def code_digest(root: Path = ROOT) -> str:
    """What grading runs of this checkout: the course's Python code (exercises included)."""
    h = hashlib.sha256()
    for package in ("course_utils", "autograder"):
        for path in sorted((root / package).rglob("*.py")):
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def versions() -> dict[str, str]:
    """Python, the packages grading depends on, and the course code, in this process."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": ".".join(map(str, sys.version_info[:3])), "course code": code_digest()}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "missing"
    return found


def check_db(db_url: str) -> None:
    if not db_url.startswith(("postgresql", "postgres://")):
        raise ClusterError(
            "grading on a cluster needs a gradebook every worker can reach: give "
            "--db postgresql://USER@HOST:PORT/DB (a SQLite file lives on one machine's disk)"
        )


def check_workers(client, mine: dict[str, str] | None = None) -> list[str]:
    """The workers' addresses, once every one of them runs what the grader runs."""
    mine = mine or versions()
    theirs: dict[str, dict[str, str]] = client.run(versions)
    if not theirs:
        raise ClusterError(f"no Dask worker is connected to {client.scheduler.address}")
    wrong = []
    for address, found in sorted(theirs.items()):
        diff = [f"{k} {found.get(k)} (grader: {v})" for k, v in mine.items() if found.get(k) != v]
        if diff:
            wrong.append(f"  {address}: " + ", ".join(diff))
    if wrong:
        raise ClusterError(
            "these Dask workers run other versions than this grader; install the same "
            "course checkout and packages there (pip install -c constraints.txt "
            "-e '.[autograder,cluster]'):\n" + "\n".join(wrong)
        )
    return sorted(theirs)


try:
    from distributed import WorkerPlugin
except ImportError:  # the cluster extra is not installed: only the local path is used
    WorkerPlugin = object  # type: ignore[assignment,misc]


class GradingPlugin(WorkerPlugin):  # type: ignore[misc,valid-type]
    """Once per Dask worker: a scratch course, a kernel fork server, the sandbox."""

    def __init__(
        self,
        sandbox: bool,
        memory_bytes: int,
        threads: int | None,
        per_host: dict[str, int] | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.memory_bytes = memory_bytes
        self.threads = threads
        self.per_host = per_host or {}

    def setup(self, worker) -> None:
        import logging
        import warnings

        from autograder.grading import forkkernel, speedups
        from autograder.grading.confinement import kernel_sandbox, sandbox_supported
        from autograder.grading.forkserver import threads_for_torch
        from autograder.grading.worker import WORKER

        warnings.filterwarnings("ignore")
        logging.getLogger("traitlets").setLevel(logging.ERROR)
        speedups.apply()
        base = Path(tempfile.mkdtemp(prefix="course-dask-", dir=worker.local_directory))
        course = base / "course"
        (course / RELEASE_DIR).mkdir(parents=True)
        scratch = forkkernel.kernels_folder()
        os.chmod(base, 0o711)
        box = None
        if self.sandbox and sandbox_supported():
            box = kernel_sandbox(
                [str(course), str(Path(worker.local_directory).resolve())], self.memory_bytes
            )
        # A new Python (fork + exec), not a fork of this threaded worker; it dies with it.
        threads = self.threads or self.per_host.get(socket.gethostname())
        forkkernel.stop_server()
        forkkernel.start_server(box, scratch, fork=False, threads=threads)
        threads_for_torch(threads)
        WORKER.update(course=course, sandbox=box, base=base, scratch=scratch, lock=threading.Lock())

    def teardown(self, worker) -> None:
        from autograder.grading import forkkernel
        from autograder.grading.worker import WORKER

        forkkernel.stop_server()
        if WORKER.get("scratch") is not None:
            forkkernel.remove_kernels_folder(WORKER["scratch"])
        if WORKER.get("base") is not None:
            shutil.rmtree(WORKER["base"], ignore_errors=True)


def grade_remote(
    job: dict, submission: bytes, released: bytes, db_url: str, limits: dict
) -> tuple[dict, dict[str, bytes]]:
    """On a Dask worker: grade one submission sent as bytes; feedback comes back as bytes."""
    from autograder.grading.jobs import Job, Limits
    from autograder.grading.worker import WORKER, grade_one

    w = WORKER
    if "course" not in w:
        raise RuntimeError("this Dask worker has no grading plugin (it joined after the start)")
    with w["lock"]:  # one fork-server conversation and one nbgrader app at a time
        course: Path = w["course"]
        incoming = w["base"] / "incoming" / job["student"] / job["assignment"]
        unzip_to(submission, incoming)
        unzip_to(released, course / RELEASE_DIR / job["assignment"])
        w.update(db_url=db_url, limits=Limits(**limits))
        result = grade_one(Job(job["student"], job["assignment"], str(incoming), job["digest"]))
        pages = {Path(p).name: Path(p).read_bytes() for p in result.feedback}
        shutil.rmtree(incoming, ignore_errors=True)
        for sub in ("submitted", "autograded", "feedback"):
            shutil.rmtree(course / sub / job["student"] / job["assignment"], ignore_errors=True)
    return asdict(result), pages


def host_cores() -> tuple[str, int]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return socket.gethostname(), cores or 1


def threads_per_host(client) -> dict[str, int]:
    """Torch threads for the kernels of each host: its cores shared among its workers' threads."""
    found: dict[str, tuple[str, int]] = client.run(host_cores)
    nthreads = client.nthreads()
    cores: dict[str, int] = {}
    busy: dict[str, int] = {}
    for address, (host, n) in found.items():
        cores[host] = n
        busy[host] = busy.get(host, 0) + int(nthreads.get(address, 1))
    return {host: max(1, cores[host] // busy[host]) for host in busy}


class DaskPool:
    """The :class:`~autograder.grading.executors.Executor` on a Dask cluster."""

    def __init__(self, address: str, out: Path, db_url: str, sandbox: bool, limits, threads):
        try:
            from distributed import Client, KilledWorker
            from distributed.comm.core import CommClosedError
        except ImportError as exc:
            raise ClusterError(
                "grading on a cluster needs Dask: pip install -c constraints.txt -e '.[cluster]'"
            ) from exc
        self.lost = (KilledWorker, CommClosedError)
        self.out = out
        self.db_url = db_url
        self.limits = asdict(limits)
        try:
            self.client = Client(address, timeout=30, set_as_default=False)
        except OSError as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        try:
            check_workers(self.client)
            per_host = {} if threads else threads_per_host(self.client)
            self.client.register_plugin(
                GradingPlugin(sandbox, limits.memory_bytes, threads, per_host), name=PLUGIN_NAME
            )
        except BaseException:
            self.client.close()
            raise
        self.executor = self.client.get_executor(pure=False)
        self.released: dict[str, bytes] = {}

    def open(self) -> None:
        pass  # the cluster outlives a lost worker: the same executor grades the retries

    def submit(self, job):
        from autograder.config import RELEASE_DIR

        if job.assignment not in self.released:
            self.released[job.assignment] = zip_folder(
                self.out / "course" / RELEASE_DIR / job.assignment
            )
        return self.executor.submit(
            grade_remote,
            {"student": job.student, "assignment": job.assignment, "digest": job.digest},
            zip_folder(Path(job.folder)),
            self.released[job.assignment],
            self.db_url,
            self.limits,
        )

    def receive(self, job, value):
        from autograder.grading.jobs import Result
        from autograder.grading.worker import copy_submission

        result_dict, pages = value
        result = Result(**result_dict)
        # The worker graded its own copy and removed it; the class view's similarity report
        # reads the submissions from the grader's course folder, as local workers leave them.
        copy_submission(job, self.out / "course")
        folder = self.out / "course" / "feedback" / job.student / job.assignment
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        result.feedback = []
        for name, data in sorted(pages.items()):
            if "/" in name or name.startswith("."):
                continue
            (folder / name).write_bytes(data)
            result.feedback.append(str(folder / name))
        return result

    def end(self, failed: bool) -> None:
        if failed:
            self.executor.shutdown(wait=False)

    def close(self) -> None:
        try:
            self.client.close(timeout=10)
        except Exception:
            pass
