"""Lesson 3, sections 6-7 · Checking gradients numerically: central differences, gradcheck.

The exercise ids keep lesson 3's prefix (``differentiation.``); they live in their own module
so that lesson 3's derivative exercises and these can be edited independently.
"""

from __future__ import annotations

import torch

from course_utils.exercises import (
    AUTOGRAD,
    BY_HAND,
    DYNAMIC_CODE,
    TORCH_FUNC,
    Exercise,
    Mistake,
    register,
)
from course_utils.exercises.inputs import NamedFunction, random_size
from course_utils.i18n import Msg

# The learner calls the course's test function ``f``: that is not the course's reference, so
# only the means of differentiating are forbidden here.
BY_HAND_CALLING_F = frozenset({AUTOGRAD, TORCH_FUNC, DYNAMIC_CODE})


def _test_function(gen: torch.Generator) -> NamedFunction:
    """One of several smooth scalar functions, some with random coefficients."""
    c = torch.randn(6, generator=gen, dtype=torch.float64)
    k = int(torch.randint(0, 6, (1,), generator=gen))
    if k == 0:
        return NamedFunction("sum(x · sin(x))", "(x * torch.sin(x)).sum()")
    if k == 1:
        return NamedFunction("sum(3x³) − (sum x)²", "(3 * x**3).sum() - x.sum() ** 2")
    if k == 2:
        return NamedFunction("log(1 + sum x²)", "torch.log1p((x**2).sum())")
    if k == 3:
        return NamedFunction(
            "sum(c · exp(x / 2))", "(c[: x.numel()] * torch.exp(x / 2)).sum()", c=c
        )
    if k == 4:
        return NamedFunction(
            "tanh(c · x) summed, times x₀", "torch.tanh(c[: x.numel()] * x).sum() * x[0]", c=c
        )
    return NamedFunction("sum(sqrt(1 + x²))", "torch.sqrt(1 + x**2).sum()")


def _difference(f: NamedFunction, x: torch.Tensor, h: float, central: bool = True) -> torch.Tensor:
    """Finite differences of f at x, element by element (a model of the learner's mistakes)."""
    grad = torch.zeros_like(x).reshape(-1)
    for i in range(x.numel()):
        step = torch.zeros_like(x).reshape(-1)
        step[i] = h
        step = step.reshape(x.shape)
        low = f(x - step) if central else f(x)
        grad[i] = (f(x + step) - low) / (2 * h if central else h)
    return grad.reshape(x.shape)


def _autograd_gradient(f: NamedFunction, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x), x)
    return grad


register(
    Exercise(
        id="differentiation.central_difference",
        derives=False,
        title=Msg("A central-difference gradient", "中心差分梯度"),
        make_args=lambda gen: (
            _test_function(gen),
            torch.randn(random_size(gen), generator=gen, dtype=torch.float64) * 1.5,
        ),
        reference=_autograd_gradient,
        hints=(
            Msg(
                "Perturb one element of x at a time, on a copy, once upwards and once "
                "downwards by the same step h, and turn the two values of f into a slope.",
                "每次只扰动 x 的一个元素（在副本上改），向上、向下各挪同样的步长 h，"
                "再用 f 的这两个值算出斜率。",
            ),
            Msg(
                "Nudge one element at a time: for element i evaluate f with x[i] raised by h and "
                "with x[i] lowered by h (on copies of x), and divide the difference by 2h. In "
                "float64, h around 1e-6 balances truncation against rounding; h = 1e-2 is too big "
                "and 1e-12 too small (look at the V plot). Return float64, shaped like x.",
                "每次只挪动一个元素：对第 i 个元素，分别在 x[i] 加上 h 和减去 h（在 x 的副本上改）时计算 f，"
                "再把两者之差除以 2h。在 float64 下，h 取 1e-6 左右能兼顾截断误差和舍入误差；"
                "1e-2 太大，1e-12 又太小（看看那张 V 形图）。结果用 float64，形状与 x 相同。",
            ),
        ),
        rtol=1e-6,
        atol=1e-6,
        no_graph=True,
        edge_cases=lambda: [
            (
                NamedFunction("sum(x · sin(x))", "(x * torch.sin(x)).sum()"),
                torch.tensor([0.0, 4.0, -7.5], dtype=torch.float64),
            ),
            (
                NamedFunction("log(1 + sum x²)", "torch.log1p((x**2).sum())"),
                torch.tensor([3.0], dtype=torch.float64),
            ),
        ],
        forbids=BY_HAND_CALLING_F,
        mistakes=(
            Mistake(
                "forward_difference",
                lambda f, x: _difference(f, x, 1e-4, central=False),
                Msg(
                    "Your answer matches a one-sided difference (f(x + h) − f(x)) / h: its error "
                    "shrinks only like h. Step to both sides of x and divide by 2h.",
                    "你的结果与单侧差分 (f(x + h) − f(x)) / h 一致：它的误差只按 h 减小。"
                    "请在 x 两侧各走一步，再除以 2h。",
                ),
            ),
            Mistake(
                "divided_by_h",
                lambda f, x: 2 * _difference(f, x, 1e-6),
                Msg(
                    "Your gradient is twice the right one: the two points are 2h apart, so "
                    "divide their difference by 2h, not by h.",
                    "你的梯度是正确值的两倍：两个点相距 2h，所以差值要除以 2h，而不是 h。",
                ),
            ),
            Mistake(
                "step_too_big",
                lambda f, x: _difference(f, x, 1e-1),
                Msg(
                    "Your answer matches central differences with a large step (h = 0.1): the "
                    "truncation error, which grows like h², is too big. Take a smaller h.",
                    "你的结果与步长较大（h = 0.1）的中心差分一致：按 h² 增长的截断误差太大了。请把 h 取小一些。",
                ),
            ),
        ),
    )
)


def relative_error_reference(approx: torch.Tensor, exact: torch.Tensor) -> float:
    """‖approx − exact‖ / max(‖approx‖, ‖exact‖), and 0 when both are zero."""
    scale = max(float(torch.linalg.vector_norm(approx)), float(torch.linalg.vector_norm(exact)))
    if scale == 0.0:
        return 0.0
    return float(torch.linalg.vector_norm(approx - exact)) / scale


def _relative_error_args(gen: torch.Generator) -> tuple:
    n = random_size(gen)
    exact = torch.randn(n, generator=gen, dtype=torch.float64) * 10
    size = 10.0 ** -float(torch.randint(1, 7, (1,), generator=gen))
    approx = exact + size * torch.randn(n, generator=gen, dtype=torch.float64) * exact.abs().max()
    if bool(torch.randint(0, 2, (1,), generator=gen)):
        return exact, approx
    return approx, exact


register(
    Exercise(
        id="differentiation.relative_error",
        derives=False,
        title=Msg("Relative error of two gradients", "两个梯度的相对误差"),
        make_args=_relative_error_args,
        reference=relative_error_reference,
        kind="value",
        rtol=1e-6,
        hints=(
            Msg(
                "Measure the difference with one number for the whole vector, and scale it by "
                "the size of the gradients themselves, treating the two arguments alike.",
                "用一个数衡量整个向量的差异，再用梯度本身的大小去归一化，两个参数要一视同仁。",
            ),
            Msg(
                "Use vector norms (torch.linalg.vector_norm), not element-wise ratios: the norm of "
                "the difference divided by the larger of the two norms, so neither argument is "
                "favoured. When both are zero the error is 0; return a Python float.",
                "用向量范数（torch.linalg.vector_norm），不要逐元素求比值：差的范数除以两个范数中较大的一个，"
                "这样两个参数的地位相同。两者都为零时误差为 0；返回 Python 的 float。",
            ),
        ),
        edge_cases=lambda: [
            (torch.tensor([0.0, 2.0], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)),
            (torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)),
            (
                torch.tensor([1.0, -1.0], dtype=torch.float64),
                torch.tensor([-1.0, 1.0], dtype=torch.float64),
            ),
            (torch.tensor(3.0, dtype=torch.float64), torch.tensor(4.0, dtype=torch.float64)),
        ],
        forbids=BY_HAND,
        diagnoses=(
            (
                lambda args, actual: (
                    not bool(args[0].any())
                    and not bool(args[1].any())
                    and isinstance(actual, float)
                    and actual != actual
                ),
                Msg(
                    "Your function returns nan (0 / 0) when both gradients are zero: return "
                    "0.0 in that case.",
                    "两个梯度都为零时你的函数返回了 nan（0 / 0）：这种情况应返回 0.0。",
                ),
            ),
        ),
        mistakes=(
            Mistake(
                "absolute_error",
                lambda g1, g2: float(torch.linalg.vector_norm(g1 - g2)),
                Msg(
                    "You returned the norm of the difference itself, an absolute error: divide "
                    "it by the larger of the two norms.",
                    "你返回的是差的范数本身，也就是绝对误差：还要除以两个范数中较大的一个。",
                ),
            ),
            Mistake(
                "second_norm_only",
                lambda g1, g2: float(
                    torch.linalg.vector_norm(g1 - g2) / torch.linalg.vector_norm(g2)
                ),
                Msg(
                    "You divided by the norm of the second argument only: that is infinite when "
                    "it is zero and treats the two gradients differently. Use the larger norm.",
                    "你只除以了第二个参数的范数：它为零时结果是无穷大，而且两个梯度的地位不对等。请用较大的那个范数。",
                ),
            ),
        ),
    )
)


# Hand-written backward formulas (the notebook shows the same table): name -> forward, backward.
BACKWARD_CANDIDATES: dict[str, tuple] = {
    "A": (lambda x: x**3, lambda x, g: g * 3 * x**2),
    "B": (lambda x: x**3, lambda x, g: 3 * x**2),
    "C": (lambda x: x * torch.sin(x), lambda x, g: g * (x * torch.cos(x) + torch.sin(x))),
    "D": (lambda x: x * torch.sin(x), lambda x, g: g * x * torch.cos(x)),
    "E": (lambda x: torch.exp(2 * x), lambda x, g: g * torch.exp(2 * x)),
    "F": (lambda x: torch.exp(2 * x), lambda x, g: 2 * g * torch.exp(2 * x)),
    "G": (lambda x: torch.log(1 + x**2), lambda x, g: g * 2 * x / (1 + x**2)),
    "H": (lambda x: torch.tanh(x), lambda x, g: g * (1 - x**2)),
    "I": (lambda x: torch.tanh(x), lambda x, g: g * (1 - torch.tanh(x) ** 2)),
    "J": (lambda x: (x**2).sum(), lambda x, g: 2 * x),
}


def hand_written_function(name: str) -> type[torch.autograd.Function]:
    """A custom autograd Function whose backward is candidate ``name``'s formula."""
    forward, backward = BACKWARD_CANDIDATES[name]

    class HandWritten(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(x)
            return forward(x)

        @staticmethod
        def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            return backward(x, grad)

    return HandWritten


def gradcheck_rejects_reference(name: str) -> bool:
    x = torch.tensor([-1.3, -0.4, 0.7, 1.6], dtype=torch.float64, requires_grad=True)
    return not torch.autograd.gradcheck(
        hand_written_function(name).apply, (x,), raise_exception=False
    )


register(
    Exercise(
        id="differentiation.gradcheck_rejects",
        derives=False,
        prediction=True,
        title=Msg("Which backward does gradcheck reject?", "gradcheck 会拒绝哪些 backward？"),
        make_args=lambda gen: (
            sorted(BACKWARD_CANDIDATES)[int(torch.randint(0, 10, (1,), generator=gen))],
        ),
        reference=gradcheck_rejects_reference,
        kind="value",
        hints=(
            Msg(
                "gradcheck rejects a backward exactly when it is not the derivative of its "
                "forward times the incoming gradient g. Derive each forward's derivative first.",
                "当 backward 不等于 forward 的导数乘以传入的梯度 g 时，gradcheck 就会拒绝它。"
                "请先推导出每个 forward 的导数。",
            ),
            Msg(
                "Differentiate each forward by hand and compare with its backward, factor by "
                "factor (the chain rule's inner derivative, tanh' written in terms of x or of "
                "tanh x). Then check that backward multiplies by the incoming gradient g: "
                "gradcheck tests that too, even when the output is a scalar.",
                "对每个 forward 手算导数，再逐个因子地与它的 backward 比较（链式法则里的内层导数；"
                "tanh 的导数究竟该用 x 还是 tanh x 来写）。然后看 backward 有没有乘上传入的梯度 g："
                "即使输出是标量，gradcheck 也会检查这一点。",
            ),
        ),
        edge_cases=lambda: [(name,) for name in sorted(BACKWARD_CANDIDATES)],
        forbids=BY_HAND,
        mistakes=(
            Mistake(
                "incoming_gradient_ignored",
                lambda name: name in {"D", "E", "H"},
                Msg(
                    "A backward that leaves out g is wrong even when the output is a scalar: "
                    "gradcheck calls backward with other incoming gradients too.",
                    "漏掉 g 的 backward 即使在输出是标量时也是错的：gradcheck 还会用别的上游梯度调用 backward。",
                ),
            ),
            Mistake(
                "inner_derivative",
                lambda name: name in {"B", "D", "F", "H", "J"},
                Msg(
                    "Look again at exp(2x): the chain rule multiplies by the inner derivative, "
                    "d(2x)/dx = 2.",
                    "再看看 exp(2x)：链式法则要乘上内层函数的导数 d(2x)/dx = 2。",
                ),
            ),
            Mistake(
                "tanh_derivative",
                lambda name: name in {"B", "D", "E", "I", "J"},
                Msg(
                    "Look again at tanh: its derivative is 1 − tanh² x, written with tanh x, "
                    "not with x.",
                    "再看看 tanh：它的导数是 1 − tanh² x，要用 tanh x 来写，而不是 x。",
                ),
            ),
        ),
    )
)
