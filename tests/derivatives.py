"""Lesson 2's exercises for a given learner: each learner differentiates their own
Q = c·aᵖ − d·b^q (course_utils.derivative_families), so a test that answers as a learner
writes that learner's answer. Answers are code with the learner's numbers written in, as a
learner would type them."""

from __future__ import annotations

from course_utils.derivative_families import YOUR_Q
from course_utils.variants import DEFAULT_LEARNER

# What the feedback says for a power left unlowered (the exponent is the learner's own).
KEPT_POWER = ("still has b", "还留着 b")


def q_of(learner: str = DEFAULT_LEARNER) -> dict[str, int]:
    return YOUR_Q.params_of(learner)


def right_dq_da(learner: str = DEFAULT_LEARNER) -> str:
    """∂Q/∂a, right, as the learner would write it."""
    q = q_of(learner)
    return f"def dq_da(a):\n    return {q['c'] * q['p']} * a**{q['p'] - 1}\n"


def kept_power_dq_db(learner: str = DEFAULT_LEARNER) -> str:
    """∂Q/∂b with the power rule half applied: the exponent is not lowered."""
    q = q_of(learner)
    return f"def dq_db(b):\n    return -{q['d'] * q['q']} * b**{q['q']}\n"


def dq_da_lambda(learner: str = DEFAULT_LEARNER) -> str:
    """The right ∂Q/∂a as a lambda's source."""
    q = q_of(learner)
    return f"lambda a: {q['c'] * q['p']} * a**{q['p'] - 1}"


def dq_da_for(learner: str = DEFAULT_LEARNER):
    """The right ∂Q/∂a as a function, for checks run in this process."""
    q = q_of(learner)
    k, n = q["c"] * q["p"], q["p"] - 1
    return lambda a: k * a**n


def kept_power_for(learner: str = DEFAULT_LEARNER):
    """∂Q/∂b with the exponent not lowered, as a function."""
    q = q_of(learner)
    k, n = q["d"] * q["q"], q["q"]
    return lambda b: -k * b**n


# Answers typed into a lesson-2 notebook: they read the learner's own numbers, MY_Q, which the
# notebook sets above the exercises, so they are right (or wrong the same way) for anyone.
RIGHT_DQ_DA = 'def dq_da(a):\n    c, p = MY_Q["c"], MY_Q["p"]\n    return c * p * a ** (p - 1)\n'
KEPT_POWER_DQ_DB = 'def dq_db(b):\n    d, q = MY_Q["d"], MY_Q["q"]\n    return -d * q * b**q\n'


def my_q_cell(cells: list) -> int:
    """The index of the lesson's cell that sets MY_Q (run it before typing an answer)."""
    return next(i for i, c in enumerate(cells) if c.cell_type == "code" and "MY_Q = " in c.source)
