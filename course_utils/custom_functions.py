"""The family of functions a learner writes a custom ``torch.autograd.Function`` for (lesson 12).

Each learner gets one member, chosen from their learner id (:mod:`course_utils.variants`): the
notebook shows it typeset (``show(YOUR_FUNCTION)``) and hands it over as a callable
(:func:`your_function`). This module holds only what each function is; its derivative is the
exercise's answer and lives with the references (``course_utils/exercises/extending.py``),
out of the kernel's reach.
"""

from __future__ import annotations

from course_utils.objects import NamedFunction
from course_utils.variants import Family

FUNCTIONS: tuple[NamedFunction, ...] = (
    NamedFunction("log(cosh x)", "torch.log(torch.cosh(x))"),
    NamedFunction("log(1 + exp x)", "torch.log1p(torch.exp(x))"),
    NamedFunction("x · sigmoid(x)", "x * torch.sigmoid(x)"),
    NamedFunction("x · arctan(x)", "x * torch.atan(x)"),
)

YOUR_FUNCTION = Family(
    "extending.f",
    (
        r"f(x) = \log\cosh x",
        r"f(x) = \log\left(1 + e^{x}\right)",
        r"f(x) = \frac{x}{1 + e^{-x}}",
        r"f(x) = x \arctan x",
    ),
    params=tuple({"name": f.name} for f in FUNCTIONS),
)


def your_function(learner: str | None = None) -> NamedFunction:
    """The learner's own f (by default, this kernel's learner's), as a function of a tensor."""
    return FUNCTIONS[YOUR_FUNCTION.index(learner)]
