"""The families of functions lesson 6's exercises are written for, one member per learner.

Each learner gets their own element-wise φ in the layer y = W φ(x) (exercises 2, 4, 5 and 6)
and their own element-wise f whose derivative they write from its output (exercise 3), chosen
from their learner id (:mod:`course_utils.variants`). This module holds only what each function
is, for display and as a callable; every derivative is an answer and lives with the references
(``course_utils/exercises/vector_calculus.py``), out of the kernel's reach.

Member 0 of each family is the function the lesson's text names (sin, the sigmoid), and the
default learner of ``make lab`` on one's own machine gets it.
"""

from __future__ import annotations

from course_utils.objects import NamedFunction
from course_utils.variants import Family

PHIS: tuple[NamedFunction, ...] = (
    NamedFunction("sin(x)", "torch.sin(x)"),
    NamedFunction("tanh(x)", "torch.tanh(x)"),
    NamedFunction("arctan(x)", "torch.atan(x)"),
    NamedFunction("log(1 + exp x)", "torch.nn.functional.softplus(x)"),
)

YOUR_LAYER = Family(
    "vector_calculus.w_phi_x",
    (
        r"y = W \sin(x)",
        r"y = W \tanh(x)",
        r"y = W \arctan(x)",
        r"y = W \log\left(1 + e^{x}\right)",
    ),
    params=tuple({"phi": f.name} for f in PHIS),
)

OUTPUTS: tuple[NamedFunction, ...] = (
    NamedFunction("sigmoid(x)", "torch.sigmoid(x)"),
    NamedFunction("tanh(x)", "torch.tanh(x)"),
    NamedFunction("sqrt(x)", "torch.sqrt(x)"),
    NamedFunction("exp(-x)", "torch.exp(-x)"),
)

YOUR_ELEMENT_WISE = Family(
    "vector_calculus.element_wise",
    (
        r"y = \sigma(x) = \frac{1}{1 + e^{-x}}",
        r"y = \tanh(x)",
        r"y = \sqrt{x}",
        r"y = e^{-x}",
    ),
    params=tuple({"f": f.name} for f in OUTPUTS),
)


def your_phi(learner: str | None = None) -> NamedFunction:
    """The learner's own φ of y = W φ(x) (by default, this kernel's learner's)."""
    return PHIS[YOUR_LAYER.index(learner)]


def your_element_wise(learner: str | None = None) -> NamedFunction:
    """The learner's own element-wise f of exercise 3 (by default, this kernel's learner's)."""
    return OUTPUTS[YOUR_ELEMENT_WISE.index(learner)]
