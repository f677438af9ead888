"""A learner's side of nbgrader's exchange, for the grading service's tests and benchmark:
the instructor's release (the lesson in ``outbound/``) and a learner's submit and Fetch
Feedback, with nbgrader's own exchange classes, as the hub's learners use them."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import nbformat

from autograder.config import COURSE_ID, RELEASE_DIR, ROOT


def _config(exchange: Path, course_id: str, student: str):
    from traitlets.config import Config

    c = Config()
    c.Exchange.root = str(exchange)
    c.Exchange.path_includes_course = False
    c.CourseDirectory.course_id = course_id
    c.CourseDirectory.student_id = student
    return c


def publish(exchange: Path, lesson: str, course_id: str = COURSE_ID, root: Path = ROOT) -> None:
    """What ``nbgrader release_assignment`` leaves in the exchange: the learner version in
    ``outbound/``, and an ``inbound/`` every learner may write to."""
    course = exchange / course_id
    (course / "inbound").mkdir(parents=True, exist_ok=True)
    (course / "inbound").chmod(0o1777)
    dest = course / "outbound" / lesson
    if not dest.is_dir():
        shutil.copytree(root / RELEASE_DIR / lesson, dest)


def submit(
    exchange: Path,
    home: Path,
    student: str,
    lesson: str,
    nb: nbformat.NotebookNode,
    name: str,
    course_id: str = COURSE_ID,
) -> str:
    """``nbgrader submit`` of ``nb`` (saved as ``name``) by ``student``; the inbound folder's name."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default.submit import ExchangeSubmit

    folder = home / lesson
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)
    c = _config(exchange, course_id, student)
    coursedir = CourseDirectory(config=c)
    coursedir.assignment_id = lesson
    sub = ExchangeSubmit(coursedir=coursedir, authenticator=Authenticator(config=c), config=c)
    sub.assignment_dir = str(home)
    sub.cache = str(home / ".nbgrader-cache")
    sub.log.setLevel(logging.ERROR)
    sub.start()
    return sub.assignment_filename


def fetch_feedback(
    exchange: Path, home: Path, student: str, lesson: str, course_id: str = COURSE_ID
) -> list[Path]:
    """``nbgrader fetch_feedback``: the feedback pages now in the learner's folder."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.abc.exchange import ExchangeError
    from nbgrader.exchange.default.fetch_feedback import ExchangeFetchFeedback

    c = _config(exchange, course_id, student)
    coursedir = CourseDirectory(config=c)
    coursedir.assignment_id = lesson
    fetch = ExchangeFetchFeedback(
        coursedir=coursedir, authenticator=Authenticator(config=c), config=c
    )
    fetch.assignment_dir = str(home)
    fetch.cache = str(home / ".nbgrader-cache")
    fetch.log.setLevel(logging.CRITICAL)
    try:
        fetch.start()
    except ExchangeError:  # no feedback released in the course yet
        return []
    return sorted((home / lesson / "feedback").glob("*/*.html"))
