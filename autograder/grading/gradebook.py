"""The gradebook and the scratch course folder nbgrader grades in: checked before any work,
prepared once per source change, configured for the workers."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from autograder.config import ROOT, SOURCE_DIR
from autograder.grading.discovery import folder_digest
from autograder.grading.jobs import DEFAULT_LIMITS, Limits


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


def nbgrader_config(course: Path, db_url: str, fast: bool = True, limits: Limits = DEFAULT_LIMITS):
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


def add_students(db_url: str, students: list[str]) -> None:
    """Every student in the gradebook before the workers start: two workers grading one
    student's lessons at once would both create the student, and one would fail."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        for student in students:
            gb.update_or_create_student(student)
