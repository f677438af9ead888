"""Lesson 2's exercise family: each learner's own Q = c·aᵖ − d·b^q.

The lesson's worked example stays Q = 3a³ − b²; each learner differentiates a member of their
own, chosen from their learner id (:mod:`course_utils.variants`) and shown typeset above the
exercises (``show(YOUR_Q)``). This module holds only what each member *is*; its derivatives are
the exercises' answers and live with the references in ``course_utils/exercises/
differentiation.py``, out of the kernel's reach.

The order of the members is part of every learner's assignment: append only.
"""

from __future__ import annotations

from course_utils.variants import Family

# (c, p, d, q): Q = c·aᵖ − d·b^q. Never a coefficient of 1 or equal to its exponent, so that
# a dropped coefficient and an exponent not brought down are different wrong answers; no two
# members share a derivative, so an answer copied from another member is told so.
COEFFICIENTS: tuple[tuple[int, int, int, int], ...] = (
    (2, 4, 5, 2),
    (4, 3, 3, 5),
    (3, 5, 2, 3),
    (5, 2, 4, 3),
    (2, 5, 7, 2),
    (5, 4, 2, 5),
)

YOUR_Q = Family(
    "differentiation.q",
    tuple(rf"Q = {c}a^{{{p}}} - {d}b^{{{q}}}" for c, p, d, q in COEFFICIENTS),
    params=tuple({"c": c, "p": p, "d": d, "q": q} for c, p, d, q in COEFFICIENTS),
)
