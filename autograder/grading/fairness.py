"""Fair use of the grading service: a learner gets at most ``per_hour`` graded submissions in
any hour, and the workers go round the learners in turn, so that one learner submitting in
a loop can neither use the grader as an oracle nor hold the others up."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from autograder.grading.journal import Submission

HOUR = 3600.0


class RoundRobin:
    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self.turn: deque[str] = deque()  # learners, the next to be served first

    def graded_in_hour(self, student: str, subs: Iterable[Submission], now: float) -> list[float]:
        return sorted(
            s.started
            for s in subs
            if s.student == student and s.started is not None and now - s.started < HOUR
        )

    def free_at(self, student: str, subs: list[Submission], now: float) -> float:
        """When ``student`` may next have a submission graded (``now`` if they may now)."""
        times = self.graded_in_hour(student, subs, now)
        if len(times) < self.per_hour:
            return now
        return times[len(times) - self.per_hour] + HOUR

    def pick(
        self, waiting: list[Submission], everyone: list[Submission], now: float
    ) -> Submission | None:
        """The next submission to grade: the oldest of the next learner in turn whom the
        limit lets through."""
        by_student: dict[str, list[Submission]] = {}
        for sub in sorted(waiting, key=lambda s: (s.timestamp, s.seen)):
            by_student.setdefault(sub.student, []).append(sub)
        self.turn = deque(s for s in self.turn if s in by_student)
        self.turn.extend(s for s in by_student if s not in self.turn)
        for _ in range(len(self.turn)):
            student = self.turn[0]
            self.turn.rotate(-1)  # served or not, this learner goes to the back
            if self.free_at(student, everyone, now) <= now:
                return by_student[student][0]
        return None
