"""Lesson 3 · The chain rule: a → b = a³ → ŷ = b² → error = Σŷ, and what the page does not show.

The lesson works that chain out by hand; its exercises ask for what it does not: the learner's
own chain (:data:`course_utils.chain_families.YOUR_CHAIN`), what accumulates over k backward
calls, an error with a target, sin(x²), and a fan-out function of their own
(:data:`course_utils.chain_families.YOUR_FAN_OUT`), where x reaches y along three paths.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_utils.chain_families import CHAINS, FAN_OUTS, YOUR_CHAIN, YOUR_FAN_OUT
from course_utils.exercises import BY_HAND, Exercise, Mistake, Variant, register
from course_utils.exercises.inputs import random_size
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

# ∂error/∂a of the lesson's own chain. The page works it out, so no lesson grades it any more;
# tests/test_by_hand.py keeps it as the plainest exercise where backward() does the chain rule.
register(
    Exercise(
        id="chain_rule.grad_a",
        asks="transcribe",
        novel="",
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
                "Start from ∂error/∂b and multiply by the last link, the derivative of b with "
                "respect to a, evaluated at the same a. Everything is element-wise, so no sum "
                "appears.",
                "从 ∂error/∂b 出发，再乘上最后一环，即 b 对 a 的导数，并在同一个 a 处取值。"
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
                "(section 3 works it out). The last b is a fresh tensor: its .grad holds one "
                "call's gradient with respect to b, nothing more.",
                "backward() 会把梯度累加到 .grad 中，所以 a.grad 里有 k 份单次调用的梯度"
                "（第 3 节推导过）。最后那个 b 是新生成的张量：它的 .grad 只有一次调用对 b 的梯度。",
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
                    "b.grad 是正确值的 k 倍：每次前向传播都会生成新的 b，最后那个 b 只经历了一次 backward。",
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
        asks="derive",
        novel="which of a.grad and the last b.grad adds up over k rounds: the page runs two "
        "rounds and reads a.grad only",
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
        asks="derive",
        novel="∂error/∂a for a squared error against a target, an error the page never "
        "differentiates",
        title=Msg("∂error/∂a for error = Σ(ŷ − t)²", "error = Σ(ŷ − t)² 时的 ∂error/∂a"),
        make_args=_target_args,
        reference=_target_reference,
        forbids=BY_HAND,
        hints=(
            Msg(
                "The chain is the lesson's, a → b → ŷ → error, but its last link is no longer a "
                "plain sum. Find the local derivative of each link, then multiply them.",
                "还是课上那条链 a → b → ŷ → error，但最后一环不再是简单的求和。"
                "先求出每一环的局部导数，再把它们乘起来。",
            ),
            Msg(
                "∂error/∂ŷ now depends on the target: differentiate the square of (ŷ − t) with "
                "respect to ŷ, keeping the order of the subtraction. The links b → ŷ and a → b "
                "are the ones section 3 works out.",
                "现在 ∂error/∂ŷ 与目标值有关：对 (ŷ − t) 的平方关于 ŷ 求导，保持减法的顺序。"
                "b → ŷ 和 a → b 这两环就是第 3 节推导过的那两环。",
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
        asks="derive",
        novel="d/dx sin(x²): the page's chains are powers and sums, never a sine of a power",
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


# --- Exercise 1: the learner's own chain, a → b = g(a) → ŷ = f(b) → error = Σŷ -------------
# Each piece of a chain: the function and its derivative (what the learner derives).
Fn = Callable[[torch.Tensor], torch.Tensor]
PIECES: dict[str, tuple[Fn, Fn]] = {
    "sin": (torch.sin, torch.cos),
    "cos": (torch.cos, lambda u: -torch.sin(u)),
    "exp": (torch.exp, torch.exp),
    "square": (lambda u: u**2, lambda u: 2 * u),
    "cube": (lambda u: u**3, lambda u: 3 * u**2),
}
# The slip each chain's own outer derivative invites: a sign lost, or the power rule's factor.
OUTER_SLIP: dict[str, tuple[Fn, Msg]] = {
    "cube": (
        lambda u: u**2,
        Msg(
            "your ∂ŷ/∂b lost the factor the power rule brings down: the exponent multiplies.",
            "你的 ∂ŷ/∂b 漏掉了幂法则带下来的系数：指数要乘到前面。",
        ),
    ),
    "exp": (
        lambda u: u * torch.exp(u - 1),
        Msg(
            "you differentiated e^b as if b were a power: the exponential is its own derivative; "
            "the power rule does not apply to it.",
            "你把 e^b 当成幂函数来求导了：指数函数的导数就是它自己，幂法则不适用。",
        ),
    ),
    "sin": (
        lambda u: -torch.cos(u),
        Msg(
            "your derivative of sin b has the wrong sign: check it at b = 0, where sin rises.",
            "你对 sin b 求导的符号反了：在 b = 0 处检查一下，sin 在那里是上升的。",
        ),
    ),
    "cos": (
        torch.sin,
        Msg(
            "your derivative of cos b has the wrong sign: cos falls just after b = 0.",
            "你对 cos b 求导的符号反了：cos 在 b = 0 之后是下降的。",
        ),
    ),
}

CHAIN_MESSAGES = {
    "stopped_at_b": Msg(
        "your ∂error/∂a stops at b: the last link, ∂b/∂a, is missing.",
        "你的 ∂error/∂a 停在了 b：漏掉了最后一环 ∂b/∂a。",
    ),
    "went_on_to_a": Msg(
        "your ∂error/∂b goes on to a: that is ∂error/∂a. The gradient of b stops at b, as "
        "b.grad does.",
        "你的 ∂error/∂b 一直推到了 a：那是 ∂error/∂a。b 的梯度停在 b 这里，b.grad 也是如此。",
    ),
    "added_links": Msg(
        "your ∂error/∂a adds the local derivatives of the links; along a chain they multiply.",
        "你的 ∂error/∂a 把各环的局部导数加了起来；沿着一条链，它们应该相乘。",
    ),
    "outer_at_a": Msg(
        "you evaluated the derivative of the link b → ŷ at a. That link receives b, so its "
        "derivative is evaluated at b: compute b from a first.",
        "你在 a 处计算了 b → ŷ 这一环的导数。这一环的输入是 b，所以它的导数要在 b 处取值："
        "先由 a 算出 b。",
    ),
    "swapped": Msg(
        "the two gradients are swapped: return (∂error/∂b, ∂error/∂a), b's first.",
        "两个梯度的顺序反了：请返回 (∂error/∂b, ∂error/∂a)，b 的在前。",
    ),
}


def _chain_member(name: str) -> Variant:
    inner, outer = name.split("-")
    g, dg = PIECES[inner]
    f, df = PIECES[outer]
    slip, slip_msg = OUTER_SLIP[outer]

    def reference(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = a.detach().clone().requires_grad_(True)
        b = g(a)
        b.retain_grad()
        f(b).sum().backward()
        return b.grad, a.grad

    def grads(a: torch.Tensor, outer_slope: Fn = df) -> tuple[torch.Tensor, torch.Tensor]:
        d_b = outer_slope(g(a))
        return d_b, d_b * dg(a)

    wrong = {
        "stopped_at_b": lambda a: (grads(a)[0], grads(a)[0]),
        "went_on_to_a": lambda a: (grads(a)[1], grads(a)[1]),
        "added_links": lambda a: (grads(a)[0], grads(a)[0] + dg(a)),
        "outer_at_a": lambda a: (df(a), df(a) * dg(a)),
        "swapped": lambda a: (grads(a)[1], grads(a)[0]),
    }
    return Variant(
        reference=reference,
        mistakes=(
            *(Mistake(n, wrong[n], msg) for n, msg in CHAIN_MESSAGES.items()),
            Mistake(f"{outer}_slip", lambda a: grads(a, slip), slip_msg),
        ),
    )


def _chain_args(gen: torch.Generator) -> tuple:
    n = random_size(gen, 3, 7)
    # |a| near 1: e^(a²) and friends stay readable
    # |a| 取 1 左右：e^(a²) 等函数值不至于太大
    return (torch.randn(n, generator=gen) * 0.9,)


register(
    Exercise(
        id="chain_rule.your_chain",
        title=Msg("∂error/∂b and ∂error/∂a of your chain", "你那条链的 ∂error/∂b 和 ∂error/∂a"),
        make_args=_chain_args,
        family=YOUR_CHAIN,
        variants=tuple(_chain_member(c) for c in CHAINS),
        kind="tensors",
        output_names=("∂error/∂b", "∂error/∂a"),
        forbids=BY_HAND,
        asks="derive",
        novel="both gradients of the learner's own two-link chain (sin, exp, cos, powers), "
        "which the page never differentiates",
        hints=(
            Msg(
                "Work backwards from error, one link at a time, as section 3 did for its chain: "
                "what is the local derivative of the last link, and at which value is it taken? "
                "Then what does the next link multiply in?",
                "像第 3 节处理它那条链一样，从 error 出发一环一环往回推：最后一环的局部导数是什么？"
                "它在哪个值处取值？再往前一环又要乘上什么？",
            ),
            Msg(
                "Rebuild b from a first. ∂error/∂b is the derivative of your outer function, "
                "evaluated at b (the sum adds a factor 1 per element). ∂error/∂a multiplies it "
                "by the derivative of your inner function, evaluated at a. Check one element "
                "against autograd with retain_grad() before you run the test.",
                "先由 a 重新算出 b。∂error/∂b 是外层函数的导数，在 b 处取值（求和对每个元素贡献系数 1）。"
                "∂error/∂a 再乘上内层函数的导数，在 a 处取值。运行测试之前，"
                "先用 retain_grad() 让 autograd 算一个元素，和你的结果对照一下。",
            ),
        ),
        edge_cases=lambda: [
            (torch.tensor([0.0, 1.0, -1.0]),),
            (torch.tensor([0.5, -1.5, 2.0], dtype=torch.float64),),
        ],
    )
)


# --- Exercise 5: fan-out, y = x · trig(x) · e^(±x): three paths from y back to x --------------
def _fan_out_member(trig: str, sign: int) -> Variant:
    v, dv = PIECES[trig]
    shown = "e⁻ˣ" if sign < 0 else "eˣ"

    def w(x: torch.Tensor) -> torch.Tensor:
        return torch.exp(sign * x)

    def reference(x: torch.Tensor) -> torch.Tensor:
        x = x.detach().clone().requires_grad_(True)
        (x * v(x) * w(x)).sum().backward()
        return x.grad

    # the contribution of each path: through the first factor, through trig, through exp
    def paths(x: torch.Tensor, dv_: Fn = dv, dw_sign: int = sign) -> list[torch.Tensor]:
        return [v(x) * w(x), x * dv_(x) * w(x), x * v(x) * dw_sign * w(x)]

    def without(k: int) -> Fn:
        return lambda x: sum(p for i, p in enumerate(paths(x)) if i != k)

    mistakes = [
        Mistake(
            "first_factor_path_missing",
            without(0),
            Msg(
                "you followed two of the three paths from y back to x: the one through the "
                "first factor, x itself, is missing. A bare x is a use of x too.",
                "从 y 回到 x 的三条路径你只走了两条：漏掉了经过第一个因子 x 本身的那一条。"
                "单独出现的 x 也是对 x 的一次使用。",
            ),
        ),
        Mistake(
            "trig_path_missing",
            without(1),
            Msg(
                f"you followed two of the three paths from y back to x: the one through {trig} x "
                "is missing.",
                f"从 y 回到 x 的三条路径你只走了两条：漏掉了经过 {trig} x 的那一条。",
            ),
        ),
        Mistake(
            "exp_path_missing",
            without(2),
            Msg(
                f"you followed two of the three paths from y back to x: the one through {shown} "
                "is missing.",
                f"从 y 回到 x 的三条路径你只走了两条：漏掉了经过 {shown} 的那一条。",
            ),
        ),
        Mistake(
            "factor_derivatives_multiplied",
            lambda x: dv(x) * sign * w(x),
            Msg(
                "you multiplied the derivatives of the three factors. That is not how paths "
                "combine: each use of x is a path of its own, the other factors are its upstream "
                "values, and the contributions of the paths add.",
                "你把三个因子的导数直接乘在了一起。路径不是这样合并的：x 的每一次使用都是一条独立的路径，"
                "其余的因子是这条路径上的值，各条路径的贡献要相加。",
            ),
        ),
    ]
    if trig == "cos":
        mistakes.append(
            Mistake(
                "cos_sign",
                lambda x: sum(paths(x, dv_=torch.sin)),
                Msg(
                    "the path through cos x has the wrong sign: cos falls just after x = 0.",
                    "经过 cos x 的那条路径符号反了：cos 在 x = 0 之后是下降的。",
                ),
            )
        )
    if sign < 0:
        mistakes.append(
            Mistake(
                "exp_sign",
                lambda x: sum(paths(x, dw_sign=1)),
                Msg(
                    "the path through e⁻ˣ has the wrong sign: e⁻ˣ is e^u with u = −x, and the "
                    "inner link u = −x has a derivative of its own.",
                    "经过 e⁻ˣ 的那条路径符号反了：e⁻ˣ 是 e^u，其中 u = −x，而内层这一环 u = −x "
                    "也有它自己的导数。",
                ),
            )
        )
    return Variant(reference=reference, mistakes=tuple(mistakes))


register(
    Exercise(
        id="chain_rule.fan_out",
        title=Msg("dy/dx of your fan-out function", "你的扇出函数的 dy/dx"),
        make_args=lambda gen: (torch.randn(random_size(gen, 3, 7), generator=gen) * 1.5,),
        family=YOUR_FAN_OUT,
        variants=tuple(_fan_out_member(trig, sign) for trig, sign in FAN_OUTS),
        forbids=BY_HAND,
        asks="derive",
        novel="the derivative of the learner's own function in which x is used three times "
        "(three paths to add); the page adds two paths, for x · sin x",
        hints=(
            Msg(
                "Draw the graph of your y: how many times is x used, and so how many paths lead "
                "from y back to x? Each path gives a product of local derivatives; what does "
                "section 5 do with the paths' contributions?",
                "画出你的 y 的计算图：x 被用了几次？于是从 y 回到 x 有几条路径？每条路径给出一个局部导数的乘积；"
                "第 5 节是怎样处理各条路径的贡献的？",
            ),
            Msg(
                "Follow one path at a time. Along the path through one factor, the other two "
                "factors are plain numbers that multiply in, and the factor itself contributes "
                "its derivative. One path per factor, then add them; check the sign of each "
                "derivative and the inner link of e⁻ˣ, if your y has one.",
                "一次只走一条路径。沿着经过某个因子的路径，另外两个因子只是乘进来的数，"
                "这个因子本身贡献它的导数。每个因子一条路径，最后相加；逐一检查每个导数的符号，"
                "如果你的 y 里有 e⁻ˣ，别忘了它内层的那一环。",
            ),
        ),
        edge_cases=lambda: [
            (torch.tensor([0.0, 1.0, -1.0]),),
            (torch.tensor([0.5, -2.0, 2.5], dtype=torch.float64),),
        ],
    )
)
