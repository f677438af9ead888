"""What travels through the executor seam: a submission to grade (:class:`Job`) and its
outcome (:class:`Result`). Plain dataclasses, so that a Dask worker can send a result
back as a dict and the service can journal it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    cell_seconds: int = 60
    notebook_seconds: int = 600
    memory_bytes: int = 2 << 30


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


def lost_result(job: Job) -> Result:
    """What is recorded for a job whose worker died on every try."""
    return Result(
        job.student, job.assignment, job.digest, ok=False, notes=["grader-error(worker died)"]
    )


DEFAULT_LIMITS = Limits()
