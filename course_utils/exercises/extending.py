"""Lesson 12, part 1 · A custom ``torch.autograd.Function``, its backward written by hand.

The learner's ``YourFunction`` runs through the lesson's locked bridge,
``through_your_function(x, grad_output)``, which applies it and runs one backward pass: the
answer is ``(y, x.grad)``. Each learner writes their own member of
:data:`course_utils.custom_functions.YOUR_FUNCTION`; each member's reference here is autograd on
its forward, and the hand-written derivatives below (which the mistakes start from) pass
``torch.autograd.gradcheck`` (``tests/test_lesson12.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_utils.custom_functions import FUNCTIONS, YOUR_FUNCTION
from course_utils.exercises import PROCESS, TORCH_FUNC, Exercise, Mistake, Variant, register
from course_utils.exercises.inputs import random_size
from course_utils.i18n import Msg
from course_utils.objects import NamedFunction

# The derivative of each member, by name (what the learner derives), and the slip a learner
# most often makes in deriving it: one factor of the chain rule or the product rule lost.
DERIVATIVES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "log(cosh x)": torch.tanh,
    "log(1 + exp x)": torch.sigmoid,
    "x · sigmoid(x)": lambda x: torch.sigmoid(x) * (1 + x * (1 - torch.sigmoid(x))),
    "x · arctan(x)": lambda x: torch.atan(x) + x / (1 + x**2),
}
ONE_FACTOR_MISSED: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "log(cosh x)": lambda x: 1 / torch.cosh(x),  # sinh, the inner derivative, left out
    "log(1 + exp x)": lambda x: 1 / (1 + torch.exp(x)),  # exp x, the inner derivative, left out
    "x · sigmoid(x)": torch.sigmoid,  # the product rule's second term left out
    "x · arctan(x)": torch.atan,  # the product rule's second term left out
}
assert set(DERIVATIVES) == set(ONE_FACTOR_MISSED) == {f.name for f in FUNCTIONS}


def hand_written_function(
    f: NamedFunction, slope: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> type[torch.autograd.Function]:
    """A custom Function for ``f`` whose backward multiplies by ``slope`` (default: f′)."""
    derivative = slope or DERIVATIVES[f.name]

    class HandWritten(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(x)
            return f(x)

        @staticmethod
        def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            return grad_output * derivative(x)

    return HandWritten


def _args(gen: torch.Generator) -> tuple:
    n = random_size(gen, 2, 8)
    x = torch.randn(n, generator=gen, dtype=torch.float64) * 2
    return x, torch.randn(n, generator=gen, dtype=torch.float64)


def _by_autograd(f: NamedFunction):
    """Member f's reference: (y, x.grad), f differentiated by autograd."""

    def reference(x: torch.Tensor, grad_output: torch.Tensor):
        x = x.detach().clone().requires_grad_(True)
        y = f(x)
        y.backward(grad_output)
        return y.detach(), x.grad

    return reference


def _with_slope(f: NamedFunction, slope: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
    """A wrong backward for member f as an answer: (f(x), slope(x, grad_output))."""
    return lambda x, grad_output: (f(x), slope(x, grad_output))


def _member(f: NamedFunction) -> Variant:
    d, slip = DERIVATIVES[f.name], ONE_FACTOR_MISSED[f.name]
    wrong = {
        "grad_output_ignored": lambda x, g: d(x),
        "wrong_sign": lambda x, g: -g * d(x),
        "saved_output": lambda x, g: g * d(f(x)),
        "one_factor_missed": lambda x, g: g * slip(x),
    }
    return Variant(
        reference=_by_autograd(f),
        mistakes=tuple(
            Mistake(name, _with_slope(f, wrong[name]), msg) for name, msg in MESSAGES.items()
        ),
    )


MESSAGES = {
    "grad_output_ignored": Msg(
        "your backward returns f′(x) alone: it must multiply by grad_output, the gradient "
        "that arrives from the layers after this one (gradcheck calls it with other incoming "
        "gradients than ones).",
        "你的 backward 只返回了 f′(x)：它必须乘上 grad_output，即从后面各层传回来的梯度"
        "（gradcheck 也会用全 1 以外的上游梯度调用它）。",
    ),
    "wrong_sign": Msg(
        "your gradient has the right size and the wrong sign everywhere: backward returns the "
        "gradient itself, not the direction of descent.",
        "你的梯度大小都对，但处处符号相反：backward 返回的是梯度本身，而不是下降的方向。",
    ),
    "saved_output": Msg(
        "your backward evaluates f′ at the output y instead of the input x: you saved the "
        "result of forward and used it as if it were x. Save the tensor your formula for f′ "
        "needs.",
        "你的 backward 是在输出 y 处而不是输入 x 处计算 f′：你保存的是 forward 的结果，"
        "却把它当成了 x 来用。请保存 f′ 公式真正需要的那个张量。",
    ),
    "one_factor_missed": Msg(
        "your derivative misses one factor: the inner function's derivative in the chain rule, "
        "or one of the two terms of the product rule. Derive f′ again, one rule at a time.",
        "你的导数少了一个因子：链式法则中内层函数的导数，或乘积法则两项中的一项。"
        "请一条法则一条法则地重新推导 f′。",
    ),
}


# How the learner's Function ran, from the grader's record of the call (rules.Watch): the
# learner's backward must be what autograd called, and it must not run autograd itself.
PROCESS.setdefault(
    "your_backward_ran",
    (
        lambda o: o["own_backward"] >= 1,
        Msg(
            "your Function's backward() never ran: the gradient came from somewhere else. "
            "YourFunction must subclass torch.autograd.Function, so that autograd calls your "
            "backward with the gradient of the output.",
            "你的 Function 的 backward() 一次也没有运行：梯度是从别处来的。YourFunction 必须继承 "
            "torch.autograd.Function，这样 autograd 才会带着输出的梯度调用你的 backward。",
        ),
    ),
)
PROCESS.setdefault(
    "no_autograd_in_backward",
    (
        lambda o: o["engine_runs"] <= 1,
        Msg(
            "autograd ran again inside your backward(): it differentiated the function for you. "
            "The exercise asks you to write the derivative yourself, with tensor operations on "
            "what forward saved.",
            "在你的 backward() 里 autograd 又运行了一次：是它替你求了导。这道练习要求你自己写出导数，"
            "用张量运算作用在 forward 保存下来的张量上。",
        ),
    ),
)


register(
    Exercise(
        id="extending.custom_function",
        title=Msg("Your own autograd.Function", "你自己的 autograd.Function"),
        make_args=_args,
        family=YOUR_FUNCTION,
        variants=tuple(_member(f) for f in FUNCTIONS),
        kind="tensors",
        output_names=("y", "x.grad"),
        rtol=1e-6,
        atol=1e-8,
        derives=True,
        forbids=frozenset({TORCH_FUNC}),
        process=("your_backward_ran", "no_autograd_in_backward"),
        asks="build",
        novel="a custom autograd.Function for the learner's own f, whose derivative the page "
        "does not give",
        hints=(
            Msg(
                "backward receives the gradient of the loss with respect to the output, one "
                "number per element. Return the gradient with respect to the input: for an "
                "element-wise function that is one step of the chain rule.",
                "backward 收到的是损失对输出的梯度，每个元素一个数。它要返回损失对输入的梯度："
                "对逐元素的函数来说，这就是链式法则的一步。",
            ),
            Msg(
                "Derive f′ on paper first, rule by rule (chain rule, product rule), and test it "
                "with gradcheck in float64. In forward, save with ctx.save_for_backward the "
                "tensor your formula for f′ is written in; in backward, read ctx.saved_tensors "
                "and multiply f′ by grad_output, element by element.",
                "先在纸上推导 f′，一条法则一条法则地来（链式法则、乘积法则），再在 float64 下用 gradcheck 检验。"
                "在 forward 中用 ctx.save_for_backward 保存你的 f′ 公式里用到的那个张量；"
                "在 backward 中读取 ctx.saved_tensors，把 f′ 与 grad_output 逐元素相乘。",
            ),
        ),
        edge_cases=lambda: [
            (
                torch.tensor([0.0, -3.5, 4.0, 0.25], dtype=torch.float64),
                torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64),
            ),
            (torch.tensor([1.5], dtype=torch.float64), torch.tensor([-1.0], dtype=torch.float64)),
        ],
    )
)
