"""Each learner's own member of an exercise family, chosen from their learner id.

The choice is computed the same way in the learner's kernel (to show them their function)
and in the grader's process (to compute the reference for the submission's student), so
it holds no answer: only which member of a family a learner gets.

The learner id is ``COURSE_LEARNER`` when set (the grader sets it to the nbgrader student id
in a grading kernel; anyone may set it by hand), else the JupyterHub user, else a fixed
default for studying alone. ``COURSE_VARIANTS=off`` gives everyone member 0; the course's
``COURSE_VARIANT_SEED`` (default: none) reshuffles who gets which member.
"""

from __future__ import annotations

import hashlib
import os

DEFAULT_LEARNER = "learner"


def learner_id() -> str:
    """Who this kernel works for: ``COURSE_LEARNER``, the JupyterHub user, or the default."""
    for name in ("COURSE_LEARNER", "JUPYTERHUB_USER"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return DEFAULT_LEARNER


def variants_on() -> bool:
    """False when the course turned variants off (everyone then gets member 0)."""
    return os.environ.get("COURSE_VARIANTS", "on").strip().lower() not in {
        "off",
        "0",
        "no",
        "false",
    }


def variant(family: str, count: int, learner: str | None = None) -> int:
    """The index in ``range(count)`` of ``learner``'s member of ``family`` (stable across runs)."""
    if count < 1:
        raise ValueError(f"a family needs at least one member, not {count}")
    if not variants_on():
        return 0
    who = learner_id() if learner is None else learner
    salt = os.environ.get("COURSE_VARIANT_SEED", "")
    digest = hashlib.sha256(f"{salt}\0{family}\0{who}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count
