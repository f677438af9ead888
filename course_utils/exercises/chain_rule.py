"""Lesson 4 · The chain rule: a → b = a³ → ŷ = b² → error = Σŷ, and f(g(x)) = sin(x²)."""

from __future__ import annotations

import torch

from course_utils.exercises import BY_HAND, Exercise, register
from course_utils.i18n import Msg


def chain(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The lesson's chain: returns (b, error) with b = a³, ŷ = b², error = Σŷ."""
    b = a**3
    b.retain_grad()
    y_hat = b**2
    return b, y_hat.sum()


def _size(gen: torch.Generator) -> int:
    # at least two elements: with one, any wrong answer looks like "a constant factor is off"
    return int(torch.randint(2, 7, (1,), generator=gen))


def _vector(gen: torch.Generator, n: int) -> torch.Tensor:
    # a⁵ grows fast: keep |a| around 1 so the answers stay readable
    return torch.randn(n, generator=gen) * 1.2


def _chain_grads(a: torch.Tensor, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """(a.grad, b.grad) after building the chain and calling error.backward() k times."""
    a = a.detach().clone().requires_grad_(True)
    b = None
    for _ in range(k):
        b, error = chain(a)
        error.backward()
    return a.grad, b.grad


_EDGE = lambda: [  # noqa: E731
    (torch.zeros(3),),
    (torch.tensor([1.0, 2.0, 3.0]),),
    (torch.tensor([-1.5, 0.5], dtype=torch.float64),),
]

register(
    Exercise(
        id="chain_rule.grad_b",
        forbids=BY_HAND,
        title=Msg("∂error/∂b by hand", "手算 ∂error/∂b"),
        make_args=lambda gen: (_vector(gen, _size(gen)),),
        reference=lambda a: _chain_grads(a)[1],
        hint=Msg(
            "You are given a, not b: first compute b = a³. Then error = Σ b², and each b "
            "appears in exactly one term, so ∂error/∂b = 2b, element by element.",
            "函数拿到的是 a 而不是 b：先算出 b = a³。error = Σ b²，每个 b 只出现在其中一项里，"
            "所以 ∂error/∂b = 2b，逐元素计算。",
        ),
        edge_cases=_EDGE,
    )
)

register(
    Exercise(
        id="chain_rule.grad_a",
        forbids=BY_HAND,
        title=Msg("∂error/∂a by the chain rule", "用链式法则求 ∂error/∂a"),
        make_args=lambda gen: (_vector(gen, _size(gen)),),
        reference=lambda a: _chain_grads(a)[0],
        hint=Msg(
            "Multiply the local derivatives along the chain: ∂error/∂a = ∂error/∂b · ∂b/∂a "
            "= 2b · 3a², with b = a³. Stopping at 2b forgets the last link, ∂b/∂a = 3a².",
            "沿着链把局部导数乘起来：∂error/∂a = ∂error/∂b · ∂b/∂a = 2b · 3a²，其中 b = a³。"
            "只算到 2b 就漏掉了最后一环 ∂b/∂a = 3a²。",
        ),
        edge_cases=_EDGE,
    )
)


def _accumulated_args(gen: torch.Generator) -> tuple:
    a = _vector(gen, _size(gen))
    return a, int(torch.randint(1, 5, (1,), generator=gen))


register(
    Exercise(
        id="chain_rule.accumulated",
        forbids=BY_HAND,
        title=Msg(
            "a.grad and b.grad after k backward calls", "调用 k 次 backward 之后的 a.grad 和 b.grad"
        ),
        make_args=_accumulated_args,
        reference=lambda a, k: _chain_grads(a, k),
        kind="tensors",
        output_names=("a.grad", "b.grad"),
        hint=Msg(
            "a is a leaf that lives through all k rounds, so its .grad adds up: k · 6a⁵. "
            "b is rebuilt by every forward pass (b = a**3 makes a new tensor each time); "
            "the last b has seen only one backward call, so its .grad is 2b.",
            "a 是叶子张量，k 轮中始终是同一个张量，所以它的 .grad 会累加：k · 6a⁵。"
            "b 则在每次前向传播中重新生成（每次 b = a**3 都会得到一个新张量）；"
            "最后那个 b 只经历了一次 backward，所以它的 .grad 是 2b。",
        ),
        edge_cases=lambda: [(torch.tensor([1.0, 2.0, 3.0]), 2), (torch.tensor([-0.5, 0.0]), 1)],
    )
)


def _sin_square_reference(x: torch.Tensor) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    torch.sin(x**2).sum().backward()
    return x.grad


register(
    Exercise(
        id="chain_rule.sin_square",
        forbids=BY_HAND,
        title=Msg("d/dx sin(x²) by the chain rule", "用链式法则求 d/dx sin(x²)"),
        make_args=lambda gen: (torch.randn(_size(gen), generator=gen) * 1.5,),
        reference=_sin_square_reference,
        hint=Msg(
            "Outer function sin, inner function x². Differentiate the outer one and evaluate it "
            "at the inner value, then multiply by the inner derivative: cos(x²) · 2x. "
            "cos(x²) alone misses the factor 2x; cos(2x) evaluates the outer derivative at 2x instead of x².",
            "外层函数是 sin，内层函数是 x²。先对外层求导并代入内层的值，再乘以内层的导数："
            "cos(x²) · 2x。只写 cos(x²) 漏掉了因子 2x；写成 cos(2x) 则是把外层导数代入了 2x，而不是 x²。",
        ),
        edge_cases=lambda: [
            (torch.zeros(2),),
            (torch.tensor([-2.0, 2.0]),),
            (torch.tensor([0.5, 1.5], dtype=torch.float64),),
        ],
    )
)
