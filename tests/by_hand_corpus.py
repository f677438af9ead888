"""Cheating submissions, made from the released lessons, for every exercise that forbids something.

Each cheat is the lesson's own (right) answer with one forbidden means added, so that its
values are right and only the means can cost it the points:

- ``autograd``, ``torch.func``, ``torch.optim``: the answer function also calls the means,
  spelled with a different alias each time (``import torch.autograd as ag``,
  ``from torch import autograd``, ``getattr(torch, "autograd")``, ``torch.Tensor.backward``,
  ``.backward()``, ``torch.autograd.functional.jacobian``, …);
- ``course_reference``: the function returns the course's reference (``get(id).reference``);
  where the lesson itself defines the checked name (the capstone's bridge), the reference is
  assigned to that name instead;
- ``dynamic_code``: the answer cell is ``exec`` (or ``compile``) of the right answer's source;
- ``rebinding``: the right answer, then the checked name bound to the reference;
- ``tamper``: the issue's masking tricks (``sys.setprofile(None)``, a thread,
  ``operator.attrgetter``, ``inspect.getmodule``, ``torch.ops.aten``, ``__globals__``,
  ``get_ipython()``), which zero every test after them;
- ``not_allowed``: what a derivation's allowlist leaves out (``functools``, ``torch.vmap``,
  ``torch.nn.utils``); ``finite_differences``: a step (``1e-6``, ``2 ** -20``, ``1j``);
  ``no_torch``: any call into torch where a prediction is to be made by reading code.

Every exercise forbids the course's code, code from strings and tampering, so every exercise
has cheats; a cheat that imports the course's grader-side code tampers too.

Cheats aimed at different exercises share a submission: submission k holds cheat k of every
exercise that has one, every other answer is left as released (blank).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import nbformat

from autograder.authoring.samples import fill, grade_id, points, solved_source
from autograder.grading.rules import checks_in
from course_utils.exercises import (
    AUTOGRAD,
    COURSE_REFERENCE,
    DYNAMIC_CODE,
    FINITE_DIFFERENCES,
    NOT_ALLOWED,
    OPTIM,
    READY_MADE,
    TAMPER,
    TORCH_FUNC,
    get,
)
from course_utils.rules import NO_TORCH

REBINDING = "rebinding"

INJECT = {
    AUTOGRAD: [
        "import torch.autograd as ag\n_t = torch.ones(2, requires_grad=True)\nag.grad((_t * _t).sum(), _t)",
        "from torch import autograd\n_t = torch.ones(2, requires_grad=True)\nautograd.backward((_t * 3).sum())",
        '_t = torch.ones(2, requires_grad=True)\ngetattr(torch, "autograd").grad(_t.sin().sum(), _t)',
        "_t = torch.ones(2, requires_grad=True)\ntorch.Tensor.backward((_t * _t).sum())",
        "_t = torch.ones(2, requires_grad=True)\n_t.exp().sum().backward()",
        "from torch.autograd.functional import jacobian as _jac\n_jac(torch.sin, torch.ones(2))",
        "import torch.nn as _nn\n_t = torch.ones(2, requires_grad=True)\n_nn.modules.module.torch.autograd.grad(_t.sum(), _t)",
    ],
    TORCH_FUNC: [
        "import torch.func as tf\ntf.grad(torch.sin)(torch.tensor(1.0))",
        "from torch.func import vjp as _vjp\n_vjp(torch.sin, torch.ones(2))",
        "torch.func.jacrev(torch.sin)(torch.ones(2))",
    ],
    # torch's one-call version of what the exercise builds. (torch.autograd.functional is a
    # ready-made shortcut only where autograd itself is allowed, hvp: tests/test_wrong_answers.py;
    # elsewhere it is autograd.)
    READY_MADE: [
        "torch.ones(2, 3).sum_to_size(1, 3)",
        "_t = torch.ones(2, 3)\ntorch.Tensor.sum_to_size(_t, 1, 3)",
    ],
    OPTIM: [
        "_q = torch.zeros(2, requires_grad=True)\n_o = torch.optim.SGD([_q], lr=0.1)\n_q.grad = torch.ones(2)\n_o.step()",
        "from torch import optim\n_q = torch.zeros(2, requires_grad=True)\n_q.grad = torch.ones(2)\noptim.SGD([_q], lr=0.5, momentum=0.9).step()",
    ],
    # The masking tricks: each reaches into the kernel, wherever it is.
    TAMPER: [
        "import sys\nsys.setprofile(None)",
        "import threading\n_th = threading.Thread(target=lambda: None)\n_th.start()\n_th.join()",
        "import operator\n_g = operator.attrgetter('exp')(torch)",
        "import inspect\n_m = inspect.getmodule(torch.exp)",
        "_k = torch.ops.aten.tanh_backward",
        "_f = (lambda: 0).__globals__",
        "get_ipython()",
    ],
    # Outside a derivation's allowlist, though none of the named means.
    NOT_ALLOWED: [
        "import functools as _ft\n_ft.reduce(lambda a, b: a + b, [1, 2])",
        "torch.vmap(torch.sin)(torch.ones(2))",
        "_p = torch.nn.utils.parameters_to_vector",
    ],
    FINITE_DIFFERENCES: ["_h = 1e-6", "_h = 2.0 ** -20", "_z = 1j"],
    # A prediction made by reading code: any torch call runs it instead, however it is spelled.
    NO_TORCH: [
        "_t = torch.ones(2)",
        "import torch as _T\n_z = _T.zeros(1)",
        "from torch import randn as _r\n_z = _r(3, requires_grad=True).exp()",
    ],
}
# What the feedback must say for each kind of cheat: a note code.
NOTE = {
    AUTOGRAD: "forbidden",
    TORCH_FUNC: "forbidden",
    OPTIM: "forbidden",
    COURSE_REFERENCE: "forbidden",
    DYNAMIC_CODE: "forbidden",
    TAMPER: "forbidden",
    NOT_ALLOWED: "forbidden",
    FINITE_DIFFERENCES: "forbidden",
    NO_TORCH: "forbidden",
    READY_MADE: "forbidden",
    REBINDING: "rebound",
}
# Cheats that reach into the kernel (or import the course's grader-side code) zero every
# test after them, not only their own.
EVERY_LATER = (TAMPER, DYNAMIC_CODE, COURSE_REFERENCE, REBINDING)


@dataclass
class Cheat:
    lesson: str
    exercise: str
    means: str
    test_id: str  # the grade_id of the test cell that must score 0
    answer_id: str
    source: str


@dataclass
class Lesson:
    name: str
    released: nbformat.NotebookNode
    solution: nbformat.NotebookNode
    cheats: list[Cheat] = field(default_factory=list)


def _target(tree: ast.Module, name: str) -> ast.FunctionDef | None:
    defs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    for node in defs:
        if node.name == name:
            return node
    skip = {"__init__", "__repr__", "_lift"}
    return next((n for n in defs if n.name not in skip), None)


def inject(source: str, name: str, snippet: str) -> str:
    """``source`` with ``snippet`` run first thing in the function the test calls (or the first one)."""
    tree = ast.parse(source)
    fn = _target(tree, name)
    assert fn is not None, source
    first = fn.body[0]
    lines = source.splitlines()
    indent = " " * first.col_offset
    at = first.lineno - 1
    block = [indent + line for line in snippet.splitlines()]
    return "\n".join(lines[:at] + block + lines[at:]) + "\n"


def _call_with_params(fn: ast.FunctionDef) -> str:
    names = [a.arg for a in fn.args.args]
    if fn.args.vararg:
        names.append("*" + fn.args.vararg.arg)
    return ", ".join(names)


def cheat_source(means: str, k: int, exercise_id: str, name: str, honest: str) -> str:
    tree = ast.parse(honest)
    defines = any(isinstance(n, ast.FunctionDef) and n.name == name for n in tree.body)
    ref = f'_get("{exercise_id}").reference'
    if means in INJECT:
        variants = INJECT[means]
        return inject(honest, name, variants[k % len(variants)])
    if means == COURSE_REFERENCE:
        if defines:
            fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
            snippet = (
                f"from course_utils.exercises import get as _get\n"
                f"return {ref}({_call_with_params(fn)})"
            )
            return inject(honest, name, snippet)
        return (
            honest
            + f"\n\nfrom course_utils.exercises import get as _get\n\n{name} = lambda *a: {ref}(*a)\n"
        )
    if means == DYNAMIC_CODE:
        if k % 2:
            return f"exec(compile({honest!r}, 'answer', 'exec'))\n"
        return f"exec({honest!r})\n"
    if means == REBINDING:
        return honest + f"\n\nfrom course_utils.exercises import get as _get\n\n{name} = {ref}\n"
    raise ValueError(means)


def build(name: str, released_path, solution_path) -> Lesson:
    released = nbformat.read(released_path, as_version=4)
    solution = nbformat.read(solution_path, as_version=4)
    lesson = Lesson(name, released, solution)
    solved = {grade_id(c): solved_source(c.source) for c in solution.cells if grade_id(c)}
    answer_id = None
    counter: dict[str, int] = {}
    for cell in released.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            answer_id = grade_id(cell)
        if not meta.get("grade") or answer_id is None:
            continue
        seen = set()
        for exercise_id, fn_name, _hidden in checks_in(cell.source):
            if exercise_id in seen:
                continue
            seen.add(exercise_id)
            exercise = get(exercise_id)
            for means in [*sorted(exercise.forbids), REBINDING]:
                k = counter.get(means, 0)
                if name.startswith("08") and means == AUTOGRAD:
                    k = 4  # a tensor's .backward() beside the learner's own backward(): runtime only
                counter[means] = counter.get(means, 0) + 1
                source = cheat_source(means, k, exercise_id, fn_name, solved[answer_id])
                lesson.cheats.append(
                    Cheat(name, exercise_id, means, grade_id(cell), answer_id, source)
                )
    return lesson


def submissions(lesson: Lesson) -> list[tuple[nbformat.NotebookNode, list[Cheat], float]]:
    """Group the lesson's cheats: submission k holds the k-th cheat of every exercise.

    Every other answer is the right one, so the expected score is the lesson's total less the
    tests the cheats aim at (and, for a rebound name, every later test that calls it).
    """
    by_exercise: dict[str, list[Cheat]] = {}
    for cheat in lesson.cheats:
        by_exercise.setdefault(cheat.exercise, []).append(cheat)
    test_points = points(lesson.solution)
    calls = {
        grade_id(c): [name for _, name, _ in checks_in(c.source)]
        for c in lesson.released.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    order = list(calls)
    out = []
    for k in range(max((len(v) for v in by_exercise.values()), default=0)):
        chosen = [v[k] for v in by_exercise.values() if k < len(v)]
        answers = {c.answer_id: c.source for c in chosen}
        nb = fill(lesson.released, lesson.solution, answers)
        zeroed = {c.test_id for c in chosen}
        for cheat in chosen:
            later = order[order.index(cheat.test_id) :]
            if cheat.means in EVERY_LATER:
                zeroed |= set(later)
            for name in calls[cheat.test_id]:
                if f"\n{name} = " in cheat.source:  # rebound: every later test of it fails
                    zeroed |= {t for t in later if name in calls[t]}
        expected = sum(v for gid, v in test_points.items() if gid not in zeroed)
        out.append((nb, chosen, expected))
    return out
