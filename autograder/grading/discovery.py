"""Finding submissions: nbgrader's ``<student>/<assignment>/`` layout, in a folder or a
.zip, each with a digest of its files so that an unchanged submission is not graded twice."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

from autograder.config import SOURCE_DIR
from autograder.grading.jobs import Job

MAX_ZIP_BYTES = 2 << 30


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
