"""The course's graded exercises: random inputs, torch references, bilingual hints.

Each lesson has one module here that registers its exercises. An exercise is a
function the learner writes; :func:`check` calls it on random inputs and compares
the result with a reference computed by torch (usually by autograd itself), so a
hard-coded answer cannot pass.

When the grader runs a notebook it sets ``COURSE_GRADER_SEED``: the inputs then come
from that seed and every check also emits what the learner's function returned
(:data:`ANSWER_MIME`). The grader recomputes the references in its own process from
the same seed and compares there, so nothing a learner patches in their kernel
(``torch.allclose``, this package, ``showtraceback``) can change a grade.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import os
import pkgutil
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from course_utils.checks import CheckFailure, check_tensor, check_value
from course_utils.i18n import Msg, say

ANSWER_MIME = "application/vnd.autograd-course.answer+json"
SEED_ENV = "COURSE_GRADER_SEED"
MAX_ENCODED_ELEMENTS = 100_000

# The means an exercise may forbid (``Exercise.forbids``). A derivation "by hand" forbids
# every way of letting torch or the course differentiate for the learner.
AUTOGRAD = "autograd"  # .backward(), torch.autograd.* (grad, functional.jacobian, ...)
TORCH_FUNC = "torch.func"  # torch.func / functorch transforms (grad, vjp, jacrev, ...)
OPTIM = "torch.optim"  # an optimizer, where the update rule is the exercise
COURSE_REFERENCE = "course_reference"  # the course's own reference code (course_utils.*)
DYNAMIC_CODE = "dynamic_code"  # exec / eval / compile of strings, importlib tricks
BY_HAND = frozenset({AUTOGRAD, TORCH_FUNC, COURSE_REFERENCE, DYNAMIC_CODE})


@dataclass(frozen=True)
class Exercise:
    """One graded exercise.

    ``make_args(gen)`` builds random inputs from a ``torch.Generator``;
    ``reference(*args)`` computes the right answer with torch; ``kind`` says how the
    answer is compared: ``"tensor"``, ``"tensors"`` (a tuple of tensors) or ``"value"``
    (a Python number or bool). ``edge_cases()`` lists extra inputs the hidden test adds.
    ``no_graph`` asks tensor answers to be outside any computational graph
    (``requires_grad`` False, no ``grad_fn``). ``forbids`` names the means the exercise
    does not accept (:data:`BY_HAND` for a derivation by hand).
    """

    id: str
    title: Msg
    make_args: Callable[[torch.Generator], tuple]
    reference: Callable[..., Any]
    hint: Msg
    kind: str = "tensor"
    trials: int = 3
    hidden_trials: int = 8
    edge_cases: Callable[[], list[tuple]] = field(default=lambda: [])
    output_names: tuple[str, ...] = ()
    rtol: float = 1e-4
    atol: float = 1e-5
    no_graph: bool = False
    forbids: frozenset[str] = frozenset()

    def args_for(self, seed: int, trial: int) -> tuple:
        digest = hashlib.sha256(f"{seed}:{self.id}:{trial}".encode()).digest()
        gen = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))
        return tuple(self.make_args(gen))

    def inputs(self, seed: int, hidden: bool) -> list[tuple]:
        n = self.hidden_trials if hidden else self.trials
        cases = [self.args_for(seed, t) for t in range(n)]
        if hidden:
            cases.extend(tuple(c) for c in self.edge_cases())
        return cases

    def compare(self, actual: Any, expected: Any) -> None:
        """Raise :class:`CheckFailure` if ``actual`` is not ``expected``."""
        name = self.title.en if self.title.en == self.title.zh else None
        label = name or self.id.split(".")[-1]
        if self.kind == "tensor":
            check_tensor(
                actual, expected, name=label, rtol=self.rtol, atol=self.atol, no_graph=self.no_graph
            )
        elif self.kind == "tensors":
            n = len(expected)
            if not isinstance(actual, (tuple, list)) or len(actual) != n:
                raise CheckFailure(
                    Msg(
                        f"✗ {label}: expected a tuple of {n} tensors, got {type(actual).__name__}"
                        + (f" of length {len(actual)}" if isinstance(actual, (tuple, list)) else "")
                        + ".",
                        f"✗ {label}：应返回包含 {n} 个张量的元组，实际得到 {type(actual).__name__}"
                        + (f"（长度 {len(actual)}）" if isinstance(actual, (tuple, list)) else "")
                        + "。",
                    )
                )
            names = self.output_names or tuple(f"{label}[{i}]" for i in range(n))
            for got, want, part in zip(actual, expected, names, strict=True):
                check_tensor(
                    got, want, name=part, rtol=self.rtol, atol=self.atol, no_graph=self.no_graph
                )
        elif self.kind == "value":
            check_value(actual, expected, name=label, rel_tol=self.rtol)
        else:
            raise ValueError(f"unknown exercise kind {self.kind!r}")


_REGISTRY: dict[str, Exercise] = {}
_LOADED = False


def register(exercise: Exercise) -> Exercise:
    if exercise.id in _REGISTRY and _REGISTRY[exercise.id] is not exercise:
        raise ValueError(f"exercise {exercise.id!r} is registered twice")
    _REGISTRY[exercise.id] = exercise
    return exercise


def _load_all() -> None:
    global _LOADED
    if not _LOADED:
        for info in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{info.name}")
        _LOADED = True


def get(exercise_id: str) -> Exercise:
    _load_all()
    try:
        return _REGISTRY[exercise_id]
    except KeyError:
        raise KeyError(f"no exercise {exercise_id!r}; known: {sorted(_REGISTRY)}") from None


def all_exercises() -> dict[str, Exercise]:
    _load_all()
    return dict(_REGISTRY)


def _describe_args(args: tuple) -> str:
    parts = []
    for a in args:
        if isinstance(a, torch.Tensor):
            vals = ", ".join(f"{v:.4g}" for v in a.detach().reshape(-1)[:4].double().tolist())
            more = ", …" if a.numel() > 4 else ""
            parts.append(f"tensor([{vals}{more}], shape={tuple(a.shape)})" if a.dim() else vals)
        elif isinstance(a, torch.nn.Module):
            parts.append(type(a).__name__)
        else:
            parts.append(repr(a)[:40])
    return ", ".join(parts)


def evaluate(
    exercise: Exercise, answer: Callable, args: tuple, watch: Any = None
) -> tuple[Any, BaseException | None]:
    """Call the learner's function on a private copy of ``args`` (recorded by ``watch``)."""
    try:
        args = copy.deepcopy(args)
        return (watch.call(answer, args) if watch is not None else answer(*args)), None
    except Exception as exc:  # the learner's code may raise anything
        return None, exc


def diagnose(
    exercise: Exercise, args: tuple, actual: Any, error: BaseException | None
) -> Msg | None:
    """None if the answer on ``args`` is right, else a bilingual explanation with the hint."""
    if isinstance(error, NotImplementedError):
        return Msg(
            "✗ Not answered yet: replace `raise NotImplementedError()` with your code.",
            "✗ 还没有作答：请把 `raise NotImplementedError()` 换成你的代码。",
        )
    context = Msg(
        f"On random input ({_describe_args(args)}):",
        f"在随机输入（{_describe_args(args)}）下：",
    )
    if error is not None:
        what = Msg(
            f"✗ Your function raised {type(error).__name__}: {error}",
            f"✗ 你的函数抛出了 {type(error).__name__}：{error}",
        )
        return context + what + hint_of(exercise)
    expected = exercise.reference(*copy.deepcopy(args))
    try:
        exercise.compare(actual, expected)
    except CheckFailure as failure:
        return context + failure.msg + hint_of(exercise)
    return None


def hint_of(exercise: Exercise) -> Msg:
    return Msg(f"Hint: {exercise.hint.en}", f"提示：{exercise.hint.zh}")


def grader_seed() -> int | None:
    raw = os.environ.get(SEED_ENV)
    return int(raw) if raw and raw.isdigit() else None


def check(exercise_id: str, answer: Callable, *, hidden: bool = False) -> None:
    """Test the learner's ``answer`` for one exercise; raise CheckFailure with a diagnosis."""
    exercise = get(exercise_id)
    if not callable(answer):
        raise CheckFailure(
            Msg(
                f"✗ Expected a function for {exercise_id}, got {type(answer).__name__}.",
                f"✗ {exercise_id} 应当是一个函数，实际得到 {type(answer).__name__}。",
            )
        )
    seed = grader_seed()
    emit = seed is not None
    if seed is None:
        seed = secrets.randbits(32)
    outcomes = []
    first_problem: tuple[Msg, BaseException | None] | None = None
    from course_utils.exercises import rules  # what the exercise forbids: see rules.py

    watch = rules.Watch(exercise.forbids, answer)
    for args in exercise.inputs(seed, hidden):
        actual, error = evaluate(exercise, answer, args, watch)
        outcomes.append(
            encode(actual) if error is None else {"t": "error", "type": type(error).__name__}
        )
        if first_problem is None:
            problem = diagnose(exercise, args, actual, error)
            if problem is not None:
                first_problem = (problem, error)
            if first_problem and not emit:
                break
    if emit:
        payload = {"exercise": exercise_id, "seed": seed, "hidden": hidden, "outcomes": outcomes}
        _emit({**payload, "used": [list(use) for use in watch.uses]})
    used = watch.violations()
    if used:  # the answer's values may be right, but not the way it got them
        raise CheckFailure(rules.message(exercise.title, used))
    if first_problem is not None:
        problem, error = first_problem
        raise CheckFailure(problem) from error
    n = len(outcomes)
    say(
        f"✓ {exercise.title.en}: right on {n} random input(s).",
        f"✓ {exercise.title.zh}：{n} 组随机输入全部正确。",
    )


def _emit(payload: dict) -> None:
    from IPython.display import display

    display({ANSWER_MIME: payload, "text/plain": f"<answers for {payload['exercise']}>"}, raw=True)


def encode(value: Any, depth: int = 0) -> dict:
    """A JSON-safe description of a learner's answer (never trusts the object's own methods)."""
    try:
        if isinstance(value, bool):
            return {"t": "bool", "v": bool(value)}
        if type(value) is int:
            return {"t": "int", "v": int(value)}
        if type(value) is float:
            return {"t": "float", "v": _num(value)}
        if isinstance(value, torch.Tensor):
            plain = torch.Tensor.as_subclass(value.detach(), torch.Tensor)
            if plain.numel() > MAX_ENCODED_ELEMENTS:
                return {"t": "too_large", "numel": int(plain.numel())}
            data = [_num(v) for v in plain.reshape(-1).double().tolist()]
            encoded = {
                "t": "tensor",
                "dtype": str(plain.dtype).removeprefix("torch."),
                "shape": list(plain.shape),
                "data": data,
                "subclass": type(value) is not torch.Tensor,
            }
            if torch.Tensor.requires_grad.__get__(value):  # an exercise may ask for no graph
                encoded["requires_grad"] = True
            return encoded
        if isinstance(value, (tuple, list)) and depth < 2 and len(value) <= 16:
            return {"t": "tuple", "items": [encode(v, depth + 1) for v in value]}
        if value is None:
            return {"t": "none"}
        return {"t": "other", "type": type(value).__name__[:60]}
    except Exception:
        return {"t": "invalid"}


def _num(v: float) -> float | str:
    return v if v == v and v not in (float("inf"), float("-inf")) else repr(v)


def decode(obj: Any) -> Any:
    """Rebuild an encoded answer in the grader's process; unknown shapes become None."""
    if not isinstance(obj, dict):
        return None
    t = obj.get("t")
    if t == "bool":
        return bool(obj.get("v"))
    if t == "int" and isinstance(obj.get("v"), int):
        return int(obj["v"])
    if t == "float" and isinstance(obj.get("v"), (int, float, str)):
        return float(obj["v"])
    if t == "tensor":
        dtype = getattr(torch, str(obj.get("dtype")), None)
        shape, data = obj.get("shape"), obj.get("data")
        if (
            not isinstance(dtype, torch.dtype)
            or not isinstance(shape, list)
            or not isinstance(data, list)
        ):
            return None
        if not all(isinstance(s, int) and s >= 0 for s in shape):
            return None
        try:
            values = (
                torch.tensor([float(v) for v in data], dtype=torch.float64).reshape(shape).to(dtype)
            )
            if obj.get("requires_grad") is True and (
                values.is_floating_point() or values.is_complex()
            ):
                values.requires_grad_(True)
            return values
        except (TypeError, ValueError, RuntimeError):
            return None
    if t == "tuple" and isinstance(obj.get("items"), list):
        return tuple(decode(v) for v in obj["items"])
    return None
