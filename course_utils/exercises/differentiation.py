"""Lesson 3 · Differentiation in autograd: Q = 3a³ − b²."""

from __future__ import annotations

import torch

from course_utils.exercises import BY_HAND, Exercise, register
from course_utils.i18n import Msg


def q_of(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return 3 * a**3 - b**2


def _size(gen: torch.Generator) -> int:
    return int(torch.randint(1, 7, (1,), generator=gen))


def _vector(gen: torch.Generator, n: int) -> torch.Tensor:
    return torch.randn(n, generator=gen) * 3


def _autograd_grads(a: torch.Tensor, b: torch.Tensor, v: torch.Tensor | None = None):
    a = a.detach().clone().requires_grad_(True)
    b = b.detach().clone().requires_grad_(True)
    q = q_of(a, b)
    q.backward(gradient=torch.ones_like(q) if v is None else v)
    return a.grad, b.grad


register(
    Exercise(
        id="differentiation.grad_a",
        forbids=BY_HAND,
        title=Msg("∂Q/∂a by hand", "手算 ∂Q/∂a"),
        make_args=lambda gen: (_vector(gen, _size(gen)),),
        reference=lambda a: _autograd_grads(a, torch.zeros_like(a))[0],
        hint=Msg(
            "Differentiate 3a³ term by term: the power rule gives 3 · 3a². "
            "The −b² term does not depend on a.",
            "对 3a³ 逐项求导：幂函数求导法则给出 3 · 3a²。−b² 这一项与 a 无关。",
        ),
        edge_cases=lambda: [
            (torch.zeros(3),),
            (torch.tensor([-2.0, 0.5]),),
            (torch.tensor([2.0, 3.0], dtype=torch.float64),),
        ],
    )
)

register(
    Exercise(
        id="differentiation.grad_b",
        forbids=BY_HAND,
        title=Msg("∂Q/∂b by hand", "手算 ∂Q/∂b"),
        make_args=lambda gen: (_vector(gen, _size(gen)),),
        reference=lambda b: _autograd_grads(torch.zeros_like(b), b)[1],
        hint=Msg(
            "The derivative of −b² is −2b, not −2b²: the power drops by one.",
            "−b² 的导数是 −2b，而不是 −2b²：求导后指数要减一。",
        ),
        edge_cases=lambda: [
            (torch.ones(4),),
            (torch.tensor([6.0, 4.0]),),
            (torch.tensor([-1.5], dtype=torch.float64),),
        ],
    )
)


def _weighted_args(gen: torch.Generator) -> tuple:
    n = _size(gen)
    return _vector(gen, n), _vector(gen, n), torch.randn(n, generator=gen)


register(
    Exercise(
        id="differentiation.upstream",
        forbids=BY_HAND,
        title=Msg("Gradients for Q.backward(gradient=v)", "Q.backward(gradient=v) 得到的梯度"),
        make_args=_weighted_args,
        reference=lambda a, b, v: _autograd_grads(a, b, v),
        kind="tensors",
        output_names=("a.grad", "b.grad"),
        hint=Msg(
            "backward(gradient=v) multiplies each element's local derivative by the matching "
            "element of v: a.grad = v · ∂Q/∂a and b.grad = v · ∂Q/∂b, element by element.",
            "backward(gradient=v) 会把每个元素的局部导数乘以 v 中对应的元素："
            "a.grad = v · ∂Q/∂a，b.grad = v · ∂Q/∂b，逐元素相乘。",
        ),
        edge_cases=lambda: [(torch.tensor([2.0, 3.0]), torch.tensor([6.0, 4.0]), torch.ones(2))],
    )
)


def _accumulated_reference(a: torch.Tensor, b: torch.Tensor, n: int) -> torch.Tensor:
    a = a.detach().clone().requires_grad_(True)
    for _ in range(n):
        q_of(a, b).sum().backward()
    return a.grad


register(
    Exercise(
        id="differentiation.accumulated",
        forbids=BY_HAND,
        title=Msg("a.grad after n backward calls", "调用 n 次 backward 之后的 a.grad"),
        make_args=lambda gen: (
            *(lambda n: (_vector(gen, n), _vector(gen, n)))(_size(gen)),
            int(torch.randint(1, 5, (1,), generator=gen)),
        ),
        reference=_accumulated_reference,
        hint=Msg(
            "backward() adds into .grad instead of overwriting it, so after n calls "
            "a.grad holds n times the gradient of one call.",
            "backward() 会把梯度累加到 .grad 中，而不是覆盖它；所以调用 n 次之后，"
            "a.grad 是单次梯度的 n 倍。",
        ),
    )
)


def _close_args(gen: torch.Generator) -> tuple:
    n = _size(gen)
    x = torch.randn(n, generator=gen)
    kind = int(torch.randint(0, 3, (1,), generator=gen))
    if kind == 0:  # the same numbers reached by another rounding path
        y = (x * 3) / 3 + 1e-7 * torch.randn(n, generator=gen)
    elif kind == 1:  # exactly equal
        y = x.clone()
    else:  # really different
        y = x + 0.5 + torch.rand(n, generator=gen)
    return x, y


register(
    Exercise(
        id="differentiation.grads_match",
        title=Msg("Comparing floats robustly", "稳妥地比较浮点数"),
        make_args=_close_args,
        reference=lambda x, y: bool(torch.allclose(x, y)),
        kind="value",
        hint=Msg(
            "== asks floats to be exactly equal, and two correct computations can differ in the last "
            "bits. Use torch.allclose(x, y), which allows a small tolerance, and return a "
            "Python bool.",
            "== 要求两个浮点数完全相等，而两种都正确的算法结果可能在最后几位上不同。"
            "请使用允许微小误差的 torch.allclose(x, y)，并返回 Python 的 bool。",
        ),
        edge_cases=lambda: [
            (torch.tensor([0.1 + 0.2]), torch.tensor([0.3])),
            (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.5])),
        ],
    )
)
