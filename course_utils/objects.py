"""Objects the lessons hand to a learner's function: picklable, so the grader can send them.

They hold no answers. The grader builds them from its seed in its own process and sends them to
the learner's kernel, which sees only this module, never the references in ``exercises/``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class NamedFunction:
    """A function handed to the learner, with a readable name (shown when a check fails).

    ``fn`` is a Python expression in ``x`` (with ``torch`` and the tensors in ``env``), so that
    the function can travel to the learner's kernel; a callable is accepted where it never has to.
    """

    def __init__(self, name: str, fn: str | Callable[[torch.Tensor], torch.Tensor], **env) -> None:
        self.name = name
        self.expr = fn if isinstance(fn, str) else None
        self.env = env
        if isinstance(fn, str):
            code = compile(f"lambda x: {fn}", __file__, "eval")
            fn = eval(code, {"torch": torch, **env})  # the course's own formula, never a learner's
        self.fn = fn

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def __reduce__(self):
        if self.expr is None:
            raise TypeError(f"NamedFunction {self.name!r} was built from a callable")
        return (_named_function, (self.name, self.expr, self.env))

    def __repr__(self) -> str:
        return f"f(x) = {self.name}"


def _named_function(name: str, expr: str, env: dict) -> NamedFunction:
    return NamedFunction(name, expr, **env)


# One step of a random expression: the code it runs on `y` (x is the input).
STEPS = {
    "sin": "y = y.sin()",
    "exp": "y = (y / 4).exp()",
    "square": "y = y * y",
    "times_x": "y = y * x",
    "plus_x": "y = y + x",
    "double": "y = 2 * y",
    "reuse": "y = y.tanh() + y",
    "branch": "y = y.sin() if y.sum() > 0 else y.cos() * 3",
    "loop": "for _ in range(3): y = y + 1",
    "sum": "y = y.sum()",
}


SHORT = {
    "sin": "sin",
    "exp": "exp",
    "square": "y*y",
    "times_x": "y*x",
    "plus_x": "y+x",
    "double": "2y",
    "reuse": "tanh+y",
    "branch": "if",
    "loop": "for",
    "sum": "sum",
}


class Expression:
    """A small random function of one tensor; ``print`` shows the code it runs."""

    def __init__(self, steps: tuple[str, ...]) -> None:
        self.steps = tuple(steps)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for step in self.steps:
            if step == "sin":
                y = y.sin()
            elif step == "exp":
                y = (y / 4).exp()
            elif step == "square":
                y = y * y
            elif step == "times_x":
                y = y * x
            elif step == "plus_x":
                y = y + x
            elif step == "double":
                y = 2 * y
            elif step == "reuse":
                y = y.tanh() + y
            elif step == "branch":  # Python control flow: the graph depends on the data
                y = y.sin() if y.sum() > 0 else y.cos() * 3
            elif step == "loop":
                for _ in range(3):
                    y = y + 1
            elif step == "sum":
                y = y.sum()
            else:
                raise ValueError(step)
        return y

    def __str__(self) -> str:
        return "y = x; " + "; ".join(STEPS[s] for s in self.steps)

    def __repr__(self) -> str:  # short, for feedback; print(expr) shows the code
        return "<" + ", ".join(SHORT[s] for s in self.steps) + ">"


class Terms:
    """y = Σ f(xs[i]) * xs[j] over a few random terms; ``repr`` shows the formula."""

    FORMS = {"sin": "xs[{i}].sin()", "exp": "xs[{i}].exp()", "detach": "xs[{i}].detach()"}

    def __init__(self, terms: tuple[tuple[str, int, int], ...]) -> None:
        self.terms = tuple(terms)

    def __call__(self, *xs: torch.Tensor) -> torch.Tensor:
        total = None
        for form, i, j in self.terms:
            a = xs[i].sin() if form == "sin" else xs[i].exp() if form == "exp" else xs[i].detach()
            term = a * xs[j]
            total = term if total is None else total + term
        return total

    def __repr__(self) -> str:
        parts = [f"{self.FORMS[f].format(i=i)} * xs[{j}]" for f, i, j in self.terms]
        return "y = " + " + ".join(parts)
