"""What the grader runs in the learner's kernel: the learner's function on the grader's inputs.

The grader (``autograder.grading.harness``) runs every cell of a submission, and at each test
cell, instead of the cell's ``check()`` calls, it sends its own request: this module's
:func:`run`, with the inputs it drew from a seed the kernel never sees, pickled. ``run`` calls
the learner's function on each of them and displays what it returned (:func:`encode`) with what
the runtime watch saw; the grader keeps that display only when it answers its own request (a
token it chose) and compares with the references in its own process. Nothing here knows an
answer: the references, the catalogue of mistakes and the seed never reach the kernel.
"""

from __future__ import annotations

import base64
import contextlib
import pickle
from collections.abc import Iterator
from typing import Any

import torch

ANSWER_MIME = "application/vnd.autograd-course.answer+json"
MAX_ENCODED_ELEMENTS = 100_000
ANSWER_RNG_SEED = 20261122  # torch's global seed while an answer runs: see same_randomness


def run(exercise_id: str, name: str, token: str, payload: str, forbids: list[str]) -> None:
    """Call the learner's ``name`` on each pickled input; display the answers for the grader."""
    from IPython import get_ipython
    from IPython.display import display

    from course_utils.rules import Watch

    cases = pickle.loads(base64.b64decode(payload))  # the grader's own bytes
    shell = get_ipython()
    answer = shell.user_ns.get(name) if shell is not None else None
    watch = Watch(forbids, answer)
    outcomes: list[dict] = []
    for args in cases:
        if answer is None:
            outcomes.append({"t": "error", "type": "NameError"})
            continue
        if not callable(answer):
            outcomes.append({"t": "error", "type": "TypeError"})
            continue
        try:
            with same_randomness():
                outcomes.append(encode(watch.call(answer, args)))
        except Exception as exc:  # the learner's code may raise anything
            outcomes.append({"t": "error", "type": type(exc).__name__})
    record = {
        "exercise": exercise_id,
        "token": token,
        "outcomes": outcomes,
        "used": [list(use) for use in watch.uses],
        "process": watch.observed,
        "names": argument_names(answer) if answer is not None else [],
    }
    display({ANSWER_MIME: record, "text/plain": f"<answers for {exercise_id}>"}, raw=True)


def argument_names(fn: Any) -> list[str]:
    """The names of a function's positional parameters, to show its inputs by name."""
    import inspect

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name[:24] for p in params if p.kind in kinds]


def clean_names(names: object) -> list[str]:
    """Parameter names from a kernel, for display only: identifiers, short, at most 16."""
    if not isinstance(names, list):
        return []
    return [n[:24] for n in names[:16] if isinstance(n, str) and n.isidentifier()]


def payload(cases: list[tuple]) -> str:
    """The inputs as the kernel receives them (the grader's side of :func:`run`)."""
    return base64.b64encode(pickle.dumps(cases, protocol=4)).decode("ascii")


@contextlib.contextmanager
def same_randomness() -> Iterator[None]:
    """Run with torch's global generator at one fixed state, restored afterwards.

    The learner's function and a catalogued mistake then draw the same random numbers
    (a Dropout mask), so a mistake in a model's mode can be recognised by its values.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(ANSWER_RNG_SEED)
        yield


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
