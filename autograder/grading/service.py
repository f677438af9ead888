"""``course serve``: grade submissions as they arrive, with warm workers, one process per course.

The service watches nbgrader's exchange (``<exchange>/<course>/inbound``), and for each new
submission: nbgrader's collect of that one submission (:mod:`autograder.grading.inbound`),
nbgrader's autograde and feedback in a worker that has imported torch, nbgrader and the
references once (:class:`~autograder.grading.executors.LocalPool`, the executor ``course grade``
uses), the gradebook written by nbgrader, and nbgrader's release_feedback, at once or at the
assignment's deadline (:class:`Policy`). A submission after the deadline is graded and
marked late by nbgrader (the gradebook's due date, its late-penalty plugin).

- **Nothing lost**: every step is a line in an append-only journal
  (:mod:`autograder.grading.journal`); killed at any moment (SIGKILL included) and started
  again, the service grades what it had started and not finished, and whatever arrived
  while it was down. Each submission is graded exactly once.
- **Fair use**: at most ``per_hour`` graded submissions per learner in any hour, learners
  served in turn (:mod:`autograder.grading.fairness`); a learner held back is told when,
  in both languages, where their feedback will be. Of one learner's waiting submissions of
  a lesson only the newest is graded (nbgrader's collect keeps only that one too).
- **Never stopped by a submission**: an unusable one (bad name, links, no notebook, too
  large) is journalled as rejected and skipped; an unreadable notebook is graded as blank
  with a note; a worker that dies is replaced and the submission tried again (three tries).
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import os
import shutil
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from autograder.config import COURSE_ID, ROOT
from autograder.grading import inbound
from autograder.grading.confinement import default_sandbox, default_threads, sandbox_supported
from autograder.grading.discovery import folder_digest
from autograder.grading.fairness import RoundRobin
from autograder.grading.jobs import DEFAULT_LIMITS, Job, Limits, Result, lost_result
from autograder.grading.journal import Journal, Submission

log = logging.getLogger("course.serve")

PER_HOUR = 10
POLL_S = 0.2
INCOMPLETE_S = 120  # a submission still without its secret file after this is given up
MAX_TRIES = 3


def utc(text: str) -> datetime:
    from nbgrader.utils import parse_utc

    return parse_utc(text).replace(tzinfo=timezone.utc)


@dataclass
class Policy:
    """Per assignment: its deadline and whether feedback waits for it.

    JSON: ``{"03_chain_rule": {"deadline": "2025-03-01 23:59:00 UTC", "feedback": "at-deadline"},
    "*": {"feedback": "at-once"}}``; ``feedback`` is ``at-once`` (the default) or ``at-deadline``.
    """

    rules: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> Policy:
        if path is None:
            return cls()
        rules = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(rules, dict):
            raise ValueError(f"{path}: a JSON object of assignment -> rule")
        policy = cls(rules)
        for assignment, rule in rules.items():
            if rule.get("feedback", "at-once") not in ("at-once", "at-deadline"):
                raise ValueError(f"{path}: {assignment}: feedback is at-once or at-deadline")
            if rule.get("feedback") == "at-deadline" and not rule.get("deadline"):
                raise ValueError(f"{path}: {assignment}: at-deadline needs a deadline")
            policy.deadline(assignment)  # a clear error now for a date nbgrader cannot read
        return policy

    def _rule(self, assignment: str) -> dict:
        return self.rules.get(assignment) or self.rules.get("*") or {}

    def deadline(self, assignment: str) -> datetime | None:
        text = self._rule(assignment).get("deadline")
        return utc(text) if text else None

    def release_at(self, assignment: str, timestamp: str) -> float | None:
        """When feedback on a submission made at ``timestamp`` may be released (None: now)."""
        deadline = self.deadline(assignment)
        if deadline is None or self._rule(assignment).get("feedback") != "at-deadline":
            return None
        if utc(timestamp) > deadline:
            return None  # late: the deadline has passed, nothing left to hold it for
        return deadline.timestamp()

    def late(self, assignment: str, timestamp: str) -> bool:
        deadline = self.deadline(assignment)
        return deadline is not None and utc(timestamp) > deadline


class GradingService:
    def __init__(
        self,
        exchange: Path,
        out: Path,
        *,
        db_url: str | None = None,
        workers: int = 2,
        per_hour: int = PER_HOUR,
        policy: Policy | None = None,
        sandbox: bool = True,
        limits: Limits = DEFAULT_LIMITS,
        threads: int | None = None,
        course_id: str = COURSE_ID,
        root: Path = ROOT,
        release_class=None,
        poll: float = POLL_S,
        only: list[str] | None = None,
    ) -> None:
        self.exchange = exchange.resolve()
        self.out = out.resolve()
        self.course = self.out / "course"
        self.state = self.out / "service"
        self.db_url = db_url or f"sqlite:///{self.out / 'gradebook.db'}"
        self.workers = max(1, workers)
        self.fair = RoundRobin(per_hour)
        self.per_hour = per_hour
        self.policy = policy or Policy()
        self.sandbox = sandbox
        self.limits = limits
        self.threads = threads
        self.course_id = course_id
        self.root = root
        self.release_class = release_class
        self.poll = poll
        self.only = only
        self.inbound = self.exchange / course_id / "inbound"
        self.stop = threading.Event()
        self.inflight: dict[cf.Future, tuple[Submission, Job]] = {}
        self.tries: dict[str, int] = {}
        self.first_seen: dict[str, float] = {}  # incomplete submissions: since when
        self.backend = None
        self.journal: Journal | None = None
        self.students: set[str] = set()

    # -- start ---------------------------------------------------------------------------
    def start(self) -> None:
        from autograder.authoring.release import lessons
        from autograder.grading import speedups
        from autograder.grading.executors import LocalPool
        from autograder.grading.grade import prepare_while_preloading
        from autograder.grading.gradebook import check_gradebook

        self.out.mkdir(parents=True, exist_ok=True)
        check_gradebook(self.db_url)
        self._make_inbound()
        self.journal = Journal(self.state)
        speedups.apply()
        self.assignments = set(lessons(self.root))
        if self.only:
            unknown = set(self.only) - self.assignments
            if unknown:
                raise ValueError(f"no such lesson: {', '.join(sorted(unknown))}")
            self.assignments = set(self.only)
        prep: dict = {}
        try:
            prep = json.loads((self.state / "sources.json").read_text())
        except (OSError, ValueError):
            pass
        prepare_while_preloading(
            self.course, sorted(self.assignments), self.db_url, prep, self.root
        )
        (self.state / "sources.json").write_text(json.dumps(prep))
        self._due_dates()
        self.config = inbound.exchange_config(
            self.course, self.db_url, self.exchange, self.course_id
        )
        box = None
        if self.sandbox:
            box = default_sandbox(self.out, self.exchange, self.db_url, self.limits, self.root)
            if sandbox_supported():  # the journal and the collected submissions too
                box["hide"] = sorted({*box["hide"], str(self.state)})
            else:
                log.warning(
                    "kernels run with memory and file-size limits only: hiding the course's "
                    "answers from them needs root · 内核只受内存和文件大小限制："
                    "对内核隐藏课程答案需要 root 权限"
                )
        self.backend = LocalPool(
            self.out,
            self.db_url,
            box,
            self.limits,
            self.threads or default_threads(self.workers),
            self.workers,
            course=self.course,
        )
        self.backend.open()

    def _make_inbound(self) -> None:
        """The course's exchange folders, when the service comes before any lesson's release:
        with the modes nbgrader's release would give them (it leaves existing ones as they
        are), so that learners can still submit: inbound 0733 and set-group-ID."""
        course = self.inbound.parent
        if not course.is_dir():
            course.mkdir(parents=True)
            os.chmod(course, 0o755)
        if not self.inbound.is_dir():
            self.inbound.mkdir()
            os.chmod(self.inbound, 0o2733)
        inbound.hand_over(course, self.exchange, group=True)

    def _due_dates(self) -> None:
        """nbgrader marks a submission late against the gradebook's due date."""
        from nbgrader.api import Gradebook

        with Gradebook(self.db_url, self.course_id) as gb:
            for assignment in sorted(self.assignments):
                deadline = self.policy.deadline(assignment)
                if deadline is not None:
                    gb.update_or_create_assignment(
                        assignment, duedate=deadline.replace(tzinfo=None)
                    )

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> None:
        self.start()
        try:
            while not self.stop.is_set():
                self.tick()
                if self.inflight:
                    done, _ = cf.wait(
                        list(self.inflight), timeout=self.poll, return_when=cf.FIRST_COMPLETED
                    )
                    for future in done:
                        self._finished(future)
                else:
                    self.stop.wait(self.poll)
        finally:
            self.close()

    def tick(self) -> None:
        self._scan()
        self._release_due()
        self._dispatch()

    def _scan(self) -> None:
        journal = self.journal
        for name in inbound.arrived(self.inbound):
            if journal.known(name):
                continue
            folder = self.inbound / name
            try:
                student, assignment, timestamp = inbound.parse_name(name)
                if assignment not in self.assignments:
                    raise inbound.Unusable(f"unknown assignment {assignment!r}")
                if not inbound.complete(folder):
                    since = self.first_seen.setdefault(name, time.monotonic())
                    if time.monotonic() - since < INCOMPLETE_S:
                        continue  # nbgrader's submit is still copying it
                    raise inbound.Unusable("incomplete: no submission secret")
                inbound.check(folder)
            except inbound.Unusable as bad:
                journal.append("rejected", name, reason=str(bad))
                log.warning("rejected %s: %s", name, bad)
                continue
            except OSError as exc:
                journal.append("rejected", name, reason=f"{type(exc).__name__}: {exc}")
                continue
            journal.append(
                "seen", name, student=student, assignment=assignment, timestamp=timestamp
            )

    def _waiting(self) -> list[Submission]:
        busy = {sub.id for sub, _ in self.inflight.values()}
        waiting = [
            s
            for s in self.journal.submissions.values()
            if s.status in ("waiting", "started") and s.id not in busy
        ]
        # Only a learner's newest waiting submission of a lesson is graded.
        newest: dict[tuple[str, str], Submission] = {}
        for sub in sorted(waiting, key=lambda s: s.timestamp):
            older = newest.get((sub.student, sub.assignment))
            if older is not None and older.status == "waiting":
                self.journal.append("superseded", older.id, by=sub.id)
            newest[(sub.student, sub.assignment)] = sub
        return [s for s in newest.values() if s.status in ("waiting", "started")]

    def _dispatch(self) -> None:
        now = time.time()
        everyone = list(self.journal.submissions.values())
        waiting = self._waiting()
        while len(self.inflight) < self.workers and waiting:
            sub = self.fair.pick(waiting, everyone, now)
            if sub is None:
                break
            waiting.remove(sub)
            self._submit(sub)
        for sub in waiting:  # those the limit holds back, told once
            free = self.fair.free_at(sub.student, everyone, now)
            if free > now and not sub.limited:
                self._tell_waiting(sub, free)

    def _submit(self, sub: Submission) -> None:
        try:
            if sub.student not in self.students:
                from nbgrader.api import Gradebook

                # Two workers grading one learner's lessons would both create the learner.
                with Gradebook(self.db_url, self.course_id) as gb:
                    gb.update_or_create_student(sub.student)
                self.students.add(sub.student)
            folder = inbound.collect_one(
                sub.id,
                self.exchange,
                self.course_id,
                self.state / "collected" / sub.id,
                self.config,
            )
            job = Job(sub.student, sub.assignment, str(folder), folder_digest(folder))
        except Exception as exc:
            reason = f"cannot collect: {type(exc).__name__}: {str(exc)[:200]}"
            self.journal.append("rejected", sub.id, reason=reason)
            self.journal.submissions[sub.id].events.append("rejected")
            log.warning("%s: %s", sub.id, reason)
            return
        if "started" not in sub.events:
            self.journal.append("started", sub.id)
        self._send(sub, job)

    def _send(self, sub: Submission, job: Job) -> None:
        try:
            future = self.backend.submit(job)
        except self.backend.lost + (RuntimeError,):
            self._renew_pool()
            future = self.backend.submit(job)
        self.inflight[future] = (sub, job)

    def _renew_pool(self, first: list[tuple[Submission, Job]] = ()) -> None:
        """A worker died and broke the pool: a new one, and every job in flight again."""
        again = [*first, *self.inflight.values()]
        self.inflight.clear()
        self.backend.end(failed=True)
        self.backend.open()
        for sub, job in again:
            self._send(sub, job)

    def _finished(self, future: cf.Future) -> None:
        if future not in self.inflight:
            return
        sub, job = self.inflight.pop(future)
        try:
            result = self.backend.receive(job, future.result())
        except self.backend.lost:
            self.tries[sub.id] = self.tries.get(sub.id, 0) + 1
            if self.tries[sub.id] < MAX_TRIES:
                self._renew_pool(first=[(sub, job)])
                return
            result = lost_result(job)
        except Exception as exc:
            result = lost_result(job)
            result.notes = [f"grader error: {type(exc).__name__}: {str(exc)[:200]}"]
        self._graded(sub, result)

    def _graded(self, sub: Submission, result: Result) -> None:
        late = self.policy.late(sub.assignment, sub.timestamp)
        self.journal.append(
            "graded",
            sub.id,
            result={
                "ok": result.ok,
                "score": result.score,
                "max_score": result.max_score,
                "notes": result.notes,
                "seconds": round(result.seconds, 3),
                "late": late,
            },
        )
        shutil.rmtree(self.state / "collected" / sub.id, ignore_errors=True)
        log.info(
            "graded %s: %g/%g%s", sub.id, result.score, result.max_score, " (late)" if late else ""
        )
        if self.policy.release_at(sub.assignment, sub.timestamp) is None:
            self._release(sub)
        else:
            self.journal.append("held", sub.id)

    def _release(self, sub: Submission) -> None:
        newest = max(
            (
                s
                for s in self.journal.submissions.values()
                if (s.student, s.assignment) == (sub.student, sub.assignment) and s.graded
            ),
            key=lambda s: s.timestamp,
        )
        if newest.id != sub.id:
            # The course's feedback folder holds the learner's newest graded submission.
            self.journal.append("released", sub.id, superseded_by=newest.id)
            return
        try:
            inbound.release(
                self.course, sub.student, sub.assignment, self.config, self.release_class
            )
        except Exception as exc:
            log.error("cannot release feedback on %s: %s", sub.id, exc)
            self.journal.append("release-failed", sub.id, reason=str(exc)[:300])
            return
        self.journal.append("released", sub.id)

    def _release_due(self) -> None:
        now = time.time()
        for sub in list(self.journal.submissions.values()):
            if sub.status != "graded":
                continue
            when = self.policy.release_at(sub.assignment, sub.timestamp)
            if when is None or when <= now:
                self._release(sub)

    def _tell_waiting(self, sub: Submission, free: float) -> None:
        when = datetime.fromtimestamp(free, timezone.utc).strftime("%H:%M")
        msg = inbound.WAITING.format(
            assignment=sub.assignment, timestamp=sub.timestamp, per_hour=self.per_hour, when=when
        )
        try:
            inbound.release_notice(
                self.inbound,
                sub.id,
                msg,
                self.state / "notices",
                self.config,
                self.release_class,
            )
        except Exception:
            log.warning("cannot tell %s: %s", sub.id, traceback.format_exc(limit=1))
        self.journal.append("limited", sub.id, until=free)
        log.info("limited %s until %s", sub.id, when)

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend = None
        if self.journal is not None:
            self.journal.close()


def serve(service: GradingService) -> int:
    """Run ``service`` until SIGTERM, SIGINT or SIGHUP; what was in flight is graded again
    at the next start."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: service.stop.set())
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    service.run()
    return 0
