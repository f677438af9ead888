"""How a grading kernel is confined and limited, the same for local workers, Dask workers
and the grading service: the sandbox's defaults, the course's secrets it hides, the limits
on time and memory, and the torch threads each kernel gets."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from pathlib import Path

from autograder.config import ROOT, SOURCE_DIR
from autograder.grading.gradebook import sqlite_path
from autograder.grading.jobs import Limits


def default_threads(workers: int) -> int:
    """Torch threads per kernel and worker: the cores this process may use, shared out."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // max(1, workers))


def sandbox_supported() -> bool:
    """Namespaces need root here; elsewhere kernels get resource limits only (with a warning)."""
    return os.geteuid() == 0 and sys.platform.startswith("linux")


def default_sandbox(
    out: Path, submitted: Path, db_url: str, limits: Limits, root: Path = ROOT
) -> dict | None:
    if not sandbox_supported():
        return unprivileged_sandbox(limits)
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


def unprivileged_sandbox(limits: Limits) -> dict:
    """What confines a kernel without root (the grader account running `course grade`, or the
    hub's grading service): resource limits, which any process may lower for its children.
    Hiding files, the network and other processes needs namespaces, and those need root."""
    from autograder.grading.forkserver import Sandbox

    return asdict(Sandbox(memory_bytes=limits.memory_bytes, max_file_bytes=64 << 20))


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
