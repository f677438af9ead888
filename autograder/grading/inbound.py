"""The grading service's side of nbgrader's exchange: what arrived in ``inbound/``, whether it
is usable, nbgrader's own collect for one submission, and feedback handed back through
nbgrader's release_feedback (the learner's Fetch Feedback then finds it)."""

from __future__ import annotations

import html
import logging
import os
import shutil
from pathlib import Path

from course_utils.i18n import Msg

MAX_SUBMISSION_BYTES = 50 << 20
MAX_SUBMISSION_FILES = 200
SECRET_FILE = "submission_secret.txt"  # nbgrader's submit writes it last


class Unusable(ValueError):
    """A submission the service reports and skips (it never stops the service)."""


def parse_name(name: str) -> tuple[str, str, str]:
    """``(student, assignment, timestamp)`` from ``<student>+<assignment>+<timestamp>[+<random>]``,
    split as nbgrader's collect splits it (a student id may hold ``+``)."""
    from nbgrader.utils import parse_utc

    parts = name.rsplit("+", 3)
    if len(parts) == 4:
        student, assignment, timestamp = parts[0], parts[1], parts[2]
    elif len(parts) == 3:
        student, assignment, timestamp = parts
    else:
        raise Unusable(f"not a submission's name: {name!r}")
    if not student or not assignment or student.startswith(".") or "/" in student:
        raise Unusable(f"not a submission's name: {name!r}")
    try:
        parse_utc(timestamp)
    except Exception:
        raise Unusable(f"no timestamp in {name!r}") from None
    return student, assignment, timestamp


def arrived(inbound: Path) -> list[str]:
    """Names of the folders in ``inbound`` (nbgrader's submissions), oldest first."""
    try:
        entries = list(os.scandir(inbound))
    except FileNotFoundError:
        return []
    found = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            found.append((entry.stat(follow_symlinks=False).st_mtime, entry.name))
        except OSError:
            continue
    return [name for _, name in sorted(found)]


def complete(folder: Path) -> bool:
    """nbgrader's submit copies the notebooks, then writes the timestamp and the secret."""
    secret = folder / SECRET_FILE
    return secret.is_file() and not secret.is_symlink() and secret.stat().st_size > 0


def check(folder: Path) -> None:
    """Refuse what no learner's submit makes: links (which would have the grader account
    read, and show in feedback, files the learner cannot), special files, or too much."""
    if folder.is_symlink() or not folder.is_dir():
        raise Unusable("not a folder")
    total = files = 0
    for here, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = Path(here) / name
            if path.is_symlink():
                raise Unusable(f"holds a link: {path.relative_to(folder)}")
            if name in names and not path.is_file():
                raise Unusable(f"holds a special file: {path.relative_to(folder)}")
        for name in names:
            files += 1
            total += (Path(here) / name).stat().st_size
    if files > MAX_SUBMISSION_FILES or total > MAX_SUBMISSION_BYTES:
        raise Unusable(f"too large: {files} files, {total >> 20} MB")
    if not any(folder.glob("*.ipynb")):
        raise Unusable("holds no notebook")


def exchange_config(course: Path, db_url: str, exchange: Path, course_id: str):
    from autograder.grading.gradebook import nbgrader_config

    c = nbgrader_config(course, db_url)
    c.Exchange.root = str(exchange)
    c.CourseDirectory.course_id = course_id
    return c


def collect_one(name: str, exchange: Path, course_id: str, dest_root: Path, config) -> Path:
    """nbgrader's collect (its copy, its owner check, the submission's timestamp file) of the
    one inbound submission ``name``, into ``<dest_root>/submitted/<student>/<assignment>``."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default.collect import ExchangeCollect

    student, assignment, _ = parse_name(name)

    class CollectOne(ExchangeCollect):
        # nbgrader's collect keeps each learner's newest submission; the service decides
        # which one to grade itself (fairness, superseding), so the record is given.
        def init_src(self) -> None:
            self.course_path = os.path.join(self.root, self.coursedir.course_id)
            self.inbound_path = os.path.join(self.course_path, "inbound")
            self.src_records = [self._path_to_record(os.path.join(self.inbound_path, name))]

    shutil.rmtree(dest_root, ignore_errors=True)
    coursedir = CourseDirectory(config=config)
    coursedir.root = str(dest_root)
    coursedir.assignment_id = assignment
    coursedir.student_id = student
    collect = CollectOne(
        coursedir=coursedir, authenticator=Authenticator(config=config), config=config
    )
    collect.update = True
    collect.log.setLevel(logging.ERROR)
    collect.start()
    dest = dest_root / "submitted" / student / assignment
    if not dest.is_dir():
        raise Unusable("nbgrader's collect did not copy it")
    return dest


def release(course: Path, student: str, assignment: str, config, release_class=None) -> None:
    """nbgrader's release_feedback for one learner's feedback in ``course``."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback

    coursedir = CourseDirectory(config=config)
    coursedir.root = str(course)
    coursedir.assignment_id = assignment
    coursedir.student_id = student
    cls = release_class or ExchangeReleaseFeedback
    releaser = cls(coursedir=coursedir, authenticator=Authenticator(config=config), config=config)
    releaser.log.setLevel(logging.ERROR)
    releaser.start()
    hand_over(Path(releaser.dest_path), Path(releaser.root))


def hand_over(path: Path, exchange: Path, group: bool = False) -> None:
    """What a service run as root made under ``path`` goes to the owner of the exchange.

    On the hub the exchange belongs to the grader account, whose nbgrader refuses a course
    folder it does not own and must read the feedback it released; the service runs as root
    only so that its kernels are sandboxed. With ``group``, the exchange's group too (a
    released page keeps its learner's). Modes are kept (chown may clear set-group-ID).
    """
    if os.geteuid() != 0 or not path.exists():
        return
    owner = exchange.stat()
    if owner.st_uid == 0:
        return
    for p in [path, *path.rglob("*")]:
        st = p.lstat()
        if st.st_uid == 0 and not p.is_symlink():
            os.chown(p, owner.st_uid, owner.st_gid if group else -1)
            os.chmod(p, st.st_mode & 0o7777)


WAITING = Msg(
    "Your submission of {assignment} ({timestamp}) is waiting: the course grades at most "
    "{per_hour} submission(s) per learner per hour, and you have reached that. It will be "
    "graded at about {when} (UTC); Fetch Feedback again then. Only your newest submission "
    "of a lesson is graded.",
    "你提交的 {assignment}（{timestamp}）正在排队：课程每小时最多为每位学习者评阅 {per_hour} 份提交，"
    "你已达到上限。它大约会在 {when}（UTC）评阅，届时请再次点击 Fetch Feedback。"
    "每一课只评阅你最新的一份提交。",
)


def notice_page(msg: Msg) -> str:
    body = "".join(
        f'<p lang="{lang}">{html.escape(text)}</p>'
        for lang, text in (("en", msg.en), ("zh", msg.zh))
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Feedback · 反馈</title>'
        f"</head><body>{body}</body></html>\n"
    )


def release_notice(
    inbound: Path, name: str, msg: Msg, scratch: Path, config, release_class=None
) -> None:
    """Hand the learner ``msg`` where their feedback for submission ``name`` will be: a page
    per notebook, released as feedback (the real feedback replaces it)."""
    student, assignment, _ = parse_name(name)
    folder = scratch / "feedback" / student / assignment
    shutil.rmtree(scratch, ignore_errors=True)
    folder.mkdir(parents=True)
    source = inbound / name
    for extra in ("timestamp.txt", SECRET_FILE):
        shutil.copyfile(source / extra, folder / extra)
    page = notice_page(msg)
    for nb in source.glob("*.ipynb"):
        (folder / f"{nb.stem}.html").write_text(page, encoding="utf-8")
    release(scratch, student, assignment, config, release_class)
