"""Lesson 4 · The chain rule: a → b = a³ → ŷ = b² → error = Σŷ, and f(g(x)) = sin(x²)."""

from __future__ import annotations

import torch

from course_utils.exercises import BY_HAND, Exercise, Mistake, register
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
        hints=(
            Msg(
                "The function receives a, so first rebuild the intermediate b from it. Then look "
                "only at the last link, error as a function of b: each b_i appears in one term.",
                "函数拿到的是 a，所以先由 a 重新算出中间量 b。然后只看最后一环，即 error 作为 b 的函数："
                "每个 b_i 只出现在其中一项里。",
            ),
            Msg(
                "∂error/∂b is a local derivative: it stops at b and does not go on to a. The sum "
                "contributes a factor 1 for each element, and the square is differentiated with "
                "the power rule. The result has the shape of b.",
                "∂error/∂b 是一个局部导数：它停在 b，不再继续往 a 推。求和对每个元素贡献系数 1，"
                "平方用幂法则求导。结果的形状与 b 相同。",
            ),
        ),
        mistakes=(
            Mistake(
                "a_not_b",
                lambda a: 2 * a,
                Msg(
                    "You differentiated as if the input were b: the function receives a, and "
                    "b = a³ must be computed first.",
                    "你把输入当成了 b 来求导：函数拿到的是 a，要先算出 b = a³。",
                ),
            ),
            Mistake(
                "went_on_to_a",
                lambda a: 2 * a**3 * 3 * a**2,
                Msg(
                    "You went one link too far: that is ∂error/∂a. ∂error/∂b stops at b.",
                    "你多推了一环：这是 ∂error/∂a。∂error/∂b 停在 b 这里。",
                ),
            ),
            Mistake(
                "no_factor_two",
                lambda a: a**3,
                Msg(
                    "Your gradient is half the right one: the square contributes a factor 2.",
                    "你的梯度只有正确值的一半：平方求导会带来系数 2。",
                ),
            ),
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
        hints=(
            Msg(
                "The chain rule multiplies the local derivatives along the path from error back "
                "to a. How many links does the chain a → b → ŷ → error have, and what is each "
                "one's derivative?",
                "链式法则沿着从 error 回到 a 的路径把局部导数乘起来。a → b → ŷ → error 这条链有几环？"
                "每一环的导数是什么？",
            ),
            Msg(
                "Start from ∂error/∂b (the previous exercise) and multiply by the last link, the "
                "derivative of b with respect to a, evaluated at the same a. Everything is "
                "element-wise, so no sum appears.",
                "从 ∂error/∂b（上一道练习）出发，再乘上最后一环，即 b 对 a 的导数，并在同一个 a 处取值。"
                "所有运算都是逐元素的，所以不会出现求和。",
            ),
        ),
        mistakes=(
            Mistake(
                "stopped_at_b",
                lambda a: 2 * a**3,
                Msg(
                    "You stopped at ∂error/∂b: the last link, ∂b/∂a, is missing.",
                    "你停在了 ∂error/∂b：漏掉了最后一环 ∂b/∂a。",
                ),
            ),
            Mistake(
                "added_links",
                lambda a: 2 * a**3 + 3 * a**2,
                Msg(
                    "You added the local derivatives; along a chain they multiply.",
                    "你把局部导数加了起来；沿着一条链，它们应该相乘。",
                ),
            ),
            Mistake(
                "b_for_a",
                lambda a: 2 * a * 3 * a**2,
                Msg(
                    "You used a where ∂error/∂b needs b = a³.",
                    "在 ∂error/∂b 需要用 b = a³ 的地方，你用了 a。",
                ),
            ),
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
        hints=(
            Msg(
                "Two different tensors: a is one leaf that lives through all k rounds, while b "
                "is created anew by every forward pass. Which one collects gradients round after "
                "round, and which one has seen only the last backward call?",
                "这是两个不同的张量：a 是一个叶子张量，k 轮中始终是同一个；而 b 在每次前向传播中都会"
                "重新生成。哪一个会一轮接一轮地累加梯度？哪一个只经历了最后一次 backward？",
            ),
            Msg(
                "backward() adds into .grad, so a.grad holds k copies of one call's gradient "
                "(from the exercise above). The last b is a fresh tensor: its .grad holds one "
                "call's gradient with respect to b, nothing more.",
                "backward() 会把梯度累加到 .grad 中，所以 a.grad 里有 k 份单次调用的梯度"
                "（见上一道练习）。最后那个 b 是新生成的张量：它的 .grad 只有一次调用对 b 的梯度。",
            ),
        ),
        mistakes=(
            Mistake(
                "a_not_accumulated",
                lambda a, k: (6 * a**5, 2 * a**3),
                Msg(
                    "a.grad is the gradient of one call: a is the same leaf in every round, so "
                    "its .grad adds up over the k calls.",
                    "a.grad 只是单次调用的梯度：a 在每一轮都是同一个叶子张量，它的 .grad 会在 k 次调用中累加。",
                ),
            ),
            Mistake(
                "b_accumulated",
                lambda a, k: (k * 6 * a**5, k * 2 * a**3),
                Msg(
                    "b.grad is k times too large: each forward pass makes a new b, and the last "
                    "one has seen a single backward call.",
                    "b.grad 大了 k 倍：每次前向传播都会生成新的 b，最后那个 b 只经历了一次 backward。",
                ),
            ),
            Mistake(
                "swapped",
                lambda a, k: (2 * a**3, k * 6 * a**5),
                Msg(
                    "The two gradients are swapped: return (a.grad, b.grad).",
                    "两个梯度的顺序反了：请返回 (a.grad, b.grad)。",
                ),
            ),
        ),
        edge_cases=lambda: [(torch.tensor([1.0, 2.0, 3.0]), 2), (torch.tensor([-0.5, 0.0]), 1)],
    )
)


def _target_args(gen: torch.Generator) -> tuple:
    n = _size(gen)
    a = torch.randn(n, generator=gen) * 0.8  # ŷ = a⁶: keep it readable
    return a, torch.randn(n, generator=gen)


def _target_reference(a: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    a = a.detach().clone().requires_grad_(True)
    (((a**3) ** 2 - t) ** 2).sum().backward()
    return a.grad


register(
    Exercise(
        id="chain_rule.grad_a_target",
        title=Msg("∂error/∂a for error = Σ(ŷ − t)²", "error = Σ(ŷ − t)² 时的 ∂error/∂a"),
        make_args=_target_args,
        reference=_target_reference,
        forbids=BY_HAND,
        hints=(
            Msg(
                "The chain has one more link than in the lesson: a → b → ŷ → error, and the last "
                "link is no longer a plain sum. Find the local derivative of each link, then "
                "multiply them.",
                "这条链比课上多了一环：a → b → ŷ → error，而且最后一环不再是简单的求和。"
                "先求出每一环的局部导数，再把它们乘起来。",
            ),
            Msg(
                "∂error/∂ŷ now depends on the target: differentiate the square of (ŷ − t) with "
                "respect to ŷ, keeping the order of the subtraction. The links b → ŷ and a → b "
                "are the ones from the exercises above.",
                "现在 ∂error/∂ŷ 与目标值有关：对 (ŷ − t) 的平方关于 ŷ 求导，保持减法的顺序。"
                "b → ŷ 和 a → b 这两环与上面的练习相同。",
            ),
        ),
        mistakes=(
            Mistake(
                "target_ignored",
                lambda a, t: 6 * a**5,
                Msg(
                    "Your gradient ignores the target: it is the one for error = Σŷ. With a "
                    "target, ∂error/∂ŷ is no longer 1.",
                    "你的梯度没有用到目标值：这是 error = Σŷ 时的梯度。有了目标值，∂error/∂ŷ 就不再是 1。",
                ),
            ),
            Mistake(
                "outer_square_factor_missing",
                lambda a, t: (a**6 - t) * 6 * a**5,
                Msg(
                    "Your gradient is half the right one: the outer square contributes a factor 2.",
                    "你的梯度只有正确值的一半：外层的平方求导会带来系数 2。",
                ),
            ),
            Mistake(
                "stopped_at_y_hat",
                lambda a, t: 2 * (a**6 - t),
                Msg(
                    "You stopped at ∂error/∂ŷ: the links ŷ → b → a are missing.",
                    "你停在了 ∂error/∂ŷ：漏掉了 ŷ → b → a 这几环。",
                ),
            ),
            Mistake(
                "reversed_residual",
                lambda a, t: 2 * (t - a**6) * 6 * a**5,
                Msg(
                    "Your gradient has the wrong sign: the derivative of (ŷ − t)² with respect to "
                    "ŷ has ŷ first.",
                    "你的梯度符号反了：(ŷ − t)² 对 ŷ 求导，结果里是 ŷ 在前。",
                ),
            ),
        ),
        edge_cases=lambda: [
            (torch.zeros(3), torch.ones(3)),
            (torch.tensor([1.0, -1.0]), torch.tensor([1.0, 0.5])),
            (
                torch.tensor([0.5, 1.2], dtype=torch.float64),
                torch.tensor([0.0, 2.0], dtype=torch.float64),
            ),
        ],
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
        hints=(
            Msg(
                "Name the outer and the inner function. The chain rule differentiates the outer "
                "one at the inner value, then multiplies by the derivative of the inner one.",
                "先说清外层函数和内层函数分别是什么。链式法则先对外层求导并代入内层的值，"
                "再乘以内层函数的导数。",
            ),
            Msg(
                "The outer derivative is evaluated at x², not at x and not at 2x; the inner "
                "derivative is a separate factor. Check at x = 0: the answer is 0.",
                "外层导数要在 x² 处取值，而不是在 x 或 2x 处；内层导数是另外乘上的一个因子。"
                "在 x = 0 处检查：答案是 0。",
            ),
        ),
        mistakes=(
            Mistake(
                "inner_factor_missing",
                lambda x: torch.cos(x**2),
                Msg(
                    "You differentiated only the outer function: the inner derivative is missing.",
                    "你只对外层函数求了导：漏掉了内层函数的导数。",
                ),
            ),
            Mistake(
                "wrong_place",
                lambda x: torch.cos(2 * x),
                Msg(
                    "You evaluated the outer derivative at the inner derivative, 2x; it belongs at "
                    "the inner value, x².",
                    "你把外层导数代入了内层的导数 2x；它应该在内层的值 x² 处取值。",
                ),
            ),
            Mistake(
                "outer_at_x",
                lambda x: torch.cos(x) * 2 * x,
                Msg(
                    "You evaluated the outer derivative at x; it belongs at the inner value, x².",
                    "你在 x 处取了外层导数的值；它应该在内层的值 x² 处取值。",
                ),
            ),
            Mistake(
                "sin_kept",
                lambda x: torch.sin(x**2) * 2 * x,
                Msg(
                    "The outer function is still sin: its derivative was not taken.",
                    "外层函数还是 sin：没有对它求导。",
                ),
            ),
        ),
        edge_cases=lambda: [
            (torch.zeros(2),),
            (torch.tensor([-2.0, 2.0]),),
            (torch.tensor([0.5, 1.5], dtype=torch.float64),),
        ],
    )
)
