"""The family of classification losses whose gradient a learner derives in lesson 8.

Each learner gets one member, chosen from their learner id (:mod:`course_utils.variants`): the
notebook shows it typeset (``show(HEAD_LOSS)``) and reads the two numbers it is made of
(``HEAD_LOSS.params_of()``: a label smoothing ``eps`` and a temperature ``T``). Every member is
``torch.nn.functional.cross_entropy(z / T, y, label_smoothing=eps)`` for one pair; what it
differentiates to is the exercise's answer and lives only with the references
(``course_utils/exercises/training_step.py``).
"""

from __future__ import annotations

from course_utils.variants import Family

# (eps, T) per member. The learner id "learner" (studying alone) gets member 0.
MEMBERS: tuple[tuple[float, float], ...] = ((0.1, 1.0), (0.0, 2.0), (0.0, 0.5))


def _formula(eps: float, temperature: float) -> str:
    if eps:
        return (
            r"L = -\frac{1}{B}\sum_{i=1}^{B}\sum_{c=1}^{C} q_{ic}\,\log\operatorname{softmax}"
            r"(z_i)_c,\qquad q_{ic} = (1-\varepsilon)\,[c = y_i] + \frac{\varepsilon}{C},"
            rf"\quad \varepsilon = {eps:g}"
        )
    return (
        r"L = -\frac{1}{B}\sum_{i=1}^{B}\log\operatorname{softmax}\!\Big(\frac{z_i}{T}\Big)_{y_i},"
        rf"\qquad T = {temperature:g}"
    )


HEAD_LOSS = Family(
    "training_step.head",
    tuple(_formula(eps, t) for eps, t in MEMBERS),
    params=tuple({"eps": eps, "T": t} for eps, t in MEMBERS),
)
