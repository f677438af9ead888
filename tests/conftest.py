from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# nbgrader runs `alembic` and `jupyter` by name.
os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture(autouse=True)
def _default_language(monkeypatch):
    monkeypatch.delenv("COURSE_LANG", raising=False)


@pytest.fixture
def course_code_as_learners():
    """Run the course's references and catalogued mistakes through check() as a learner's code.

    Every exercise forbids the course's own code and code run from strings
    (rules.EVERY_EXERCISE), and the references and the catalogue are the course's code (one
    reference runs a program with exec), and the references reach their values their own way
    (Exercise.process): tests that feed them to check() as answers lift those rules for the
    test's duration, and nothing else.
    """
    from course_utils import exercises
    from course_utils.exercises import COURSE_REFERENCE, DYNAMIC_CODE, all_exercises

    exercises._FAILURES.clear()  # each test starts as a fresh kernel: first hints, counted tries
    saved = {eid: (ex.forbids, ex.process) for eid, ex in all_exercises().items()}
    # a family's other members are copies (with_member), which add EVERY_EXERCISE back
    saved_every = exercises.EVERY_EXERCISE
    exercises.EVERY_EXERCISE = frozenset(saved_every) - {COURSE_REFERENCE, DYNAMIC_CODE}
    for ex in all_exercises().values():
        object.__setattr__(ex, "forbids", ex.forbids - {COURSE_REFERENCE, DYNAMIC_CODE})
        object.__setattr__(ex, "process", ())  # the references take their own ways
    try:
        yield
    finally:
        exercises.EVERY_EXERCISE = saved_every
        for eid, ex in all_exercises().items():
            object.__setattr__(ex, "forbids", saved[eid][0])
            object.__setattr__(ex, "process", saved[eid][1])
