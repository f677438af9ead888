"""Lesson 10 · Checking gradients numerically: central differences, relative error, kinks,
gradcheck.

The exercise ids keep the prefix of the lesson they came from (``differentiation.``); they live
in their own module so that lesson 2's derivative exercises and these can be edited
independently.
"""

from __future__ import annotations

import math

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


# Every test function has a narrow valley added: f'' grows by 2·kᵢ·10⁶ on element i (kᵢ from
# 1 to 3), and x lies within about 1e-6 of the valley's floor. A one-sided difference is off by
# about h·kᵢ·10⁶ there, beyond the tolerance for any h above 1e-11, while a central one is exact
# on the quadratic (its rounding is tiny, since the quadratic is tiny at x). The kᵢ differ so
# that a one-sided error has a shape of its own (see _one_sided_like).
VALLEY = 1e6


def _with_valley(g: NamedFunction, gen: torch.Generator, n: int) -> tuple:
    x0 = torch.randn(n, generator=gen, dtype=torch.float64) * 1.5
    # kᵢ spread evenly over [1, 3], in a random order: never two alike
    k = 1 + 2 * torch.randperm(n, generator=gen).double() / (n - 1)
    f = NamedFunction(
        f"{g.name} + 10⁶·Σ k(x − x0)²",
        f"{g.expr} + {VALLEY:g} * (k * (x - x0) ** 2).sum()",
        **g.env,
        x0=x0,
        k=k,
    )
    return f, x0 + 1e-6 * torch.randn(n, generator=gen, dtype=torch.float64)


def _central_difference_args(gen: torch.Generator) -> tuple:
    # Two elements at least: one number alone cannot show a one-sided error's shape.
    return _with_valley(_test_function(gen), gen, random_size(gen, 2))


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


def _one_sided_like(args: tuple, actual: object) -> bool:
    """Whether ``actual`` is a one-sided difference of f at x, for some step h of either sign.

    To first order a one-sided difference is the gradient plus h·s, with s = f''ᵢᵢ/2 per element:
    h is estimated from the answer's error, and the one-sided difference with that h must then
    explain the error (a central difference's error, of order h², does not have that shape).
    """
    f, x = args
    if not isinstance(actual, torch.Tensor) or actual.shape != x.shape or x.numel() < 2:
        return False  # one number has no shape to tell a one-sided error from another
    for other in (_all_at_once(f, x), 2 * _difference(f, x, 1e-6)):  # named by their own
        if bool(torch.allclose(actual.detach().double(), other, rtol=1e-6, atol=1e-6)):
            return False
    with torch.enable_grad():
        exact = _autograd_gradient(f, x)
    x = x.detach()
    error = actual.detach().double() - exact
    size = float(error.abs().max())
    if not size > 0 or size != size:
        return False
    h0 = 1e-4
    slope = (_difference(f, x, h0, central=False) - exact) / h0  # s, to first order
    norm = float((slope * slope).sum())
    if norm == 0.0:
        return False
    h = float((error * slope).sum()) / norm
    if h == 0.0:
        return False
    fitted = _difference(f, x, h, central=False) - exact
    if float((error - fitted).abs().max()) > 0.1 * size:
        return False
    # A central difference's error, h² times the third derivative over 6, can have the same
    # shape (f = exp): then the answer does not say which it is.
    h1 = 1e-2
    cubic = (_difference(f, x, h1) - exact) / h1**2
    norm = float((cubic * cubic).sum())
    if norm == 0.0:
        return True
    # The fit's factor is h² of the central difference that would explain the error: it must be
    # positive and the square of a step someone would take (with two or three elements almost
    # any error lines up with the third derivative's shape, up to a sign or a huge step), and
    # that central difference, computed, must then explain the error.
    squared = float((error * cubic).sum()) / norm
    if not 0 < squared <= 0.1:
        return True
    central = _difference(f, x, squared**0.5) - exact
    return float((error - central).abs().max()) > 0.1 * size


def _all_at_once(f: NamedFunction, x: torch.Tensor, h: float = 1e-6) -> torch.Tensor:
    """Every element moved at once: each entry is the slope along (1, 1, …)."""
    step = torch.full_like(x, h)
    return torch.full_like(x, float((f(x + step) - f(x - step)) / (2 * h)))


ONE_SIDED = Msg(
    "Your answer is a one-sided difference, (f(x + h) − f(x)) / h or (f(x) − f(x − h)) / h: "
    "its error shrinks only like h times the curvature, which is large here. Step to both sides "
    "of x and divide by 2h.",
    "你的结果是单侧差分，(f(x + h) − f(x)) / h 或 (f(x) − f(x − h)) / h："
    "它的误差只按 h 乘以曲率的速度减小，而这里的曲率很大。请在 x 两侧各走一步，再除以 2h。",
)


register(
    Exercise(
        id="differentiation.central_difference",
        derives=False,
        title=Msg("A central-difference gradient", "中心差分梯度"),
        make_args=_central_difference_args,
        reference=_autograd_gradient,
        hints=(
            Msg(
                "Perturb one element of x at a time, on a copy, once upwards and once "
                "downwards by the same step h, and turn the two values of f into a slope.",
                "每次只扰动 x 的一个元素（在副本上改），向上、向下各挪同样的步长 h，"
                "再用 f 的这两个值算出斜率。",
            ),
            Msg(
                "For element i, evaluate f at two points placed symmetrically around x along that "
                "element only (on copies of x), and turn the difference into a slope over the "
                "distance between them. The step trades truncation against rounding: the V plot "
                "of section 1 shows where float64 balances them. Return float64, shaped like x.",
                "对第 i 个元素，在 x 两侧、只沿这个元素对称地各取一个点（在 x 的副本上改），计算 f，"
                "再用两点之差除以两点间的距离得到斜率。步长要在截断误差和舍入误差之间取舍："
                "第 1 节的 V 形图显示了 float64 下两者在哪里平衡。结果用 float64，形状与 x 相同。",
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
            _with_valley(
                NamedFunction("sum(sqrt(1 + x²))", "torch.sqrt(1 + x**2).sum()"),
                torch.Generator().manual_seed(3),
                4,
            ),
        ],
        forbids=BY_HAND_CALLING_F,
        diagnoses=((_one_sided_like, ONE_SIDED),),
        mistakes=(
            Mistake(
                "forward_difference",
                lambda f, x: _difference(f, x, 1e-8, central=False),
                ONE_SIDED,
            ),
            Mistake(
                "all_at_once",
                _all_at_once,
                Msg(
                    "You moved every element of x at once, so each entry is the slope along "
                    "(1, 1, …), the sum of all partial derivatives. Move one element at a time.",
                    "你把 x 的所有元素同时挪动了，所以每一项都是沿 (1, 1, …) 方向的斜率，"
                    "也就是所有偏导数之和。请每次只挪动一个元素。",
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
        asks="build",
        novel="a whole gradient of a function of a vector, one element at a time, precise to "
        "1e-6 where the function curves sharply; the page differences one number of Q",
    )
)


def relative_error_reference(approx: torch.Tensor, exact: torch.Tensor) -> float:
    """‖approx − exact‖ / max(‖approx‖, ‖exact‖), and 0 when both are zero."""
    scale = max(float(torch.linalg.vector_norm(approx)), float(torch.linalg.vector_norm(exact)))
    if scale == 0.0:
        return 0.0
    return float(torch.linalg.vector_norm(approx - exact)) / scale


def _relative_error_args(gen: torch.Generator) -> tuple:
    # Gradients of any size, 1e-6 to 1e6 (the measure must not care), off by 1e-1 to 1e-5 of
    # their size: far enough apart that each catalogued mistake gives a number of its own.
    n = random_size(gen, 2)
    scale = 10.0 ** float(torch.randint(-6, 7, (1,), generator=gen))
    exact = torch.randn(n, generator=gen, dtype=torch.float64) * scale
    size = 10.0 ** -float(torch.randint(1, 6, (1,), generator=gen))
    approx = exact + size * torch.randn(n, generator=gen, dtype=torch.float64) * exact.abs().max()
    if bool(torch.randint(0, 2, (1,), generator=gen)):
        return exact, approx
    return approx, exact


def _norm(g: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(g)


def _elementwise_worst(g1: torch.Tensor, g2: torch.Tensor) -> float:
    """The worst entry's own relative error: a model of the learner's mistake."""
    return float(((g1 - g2).abs() / torch.maximum(g1.abs(), g2.abs())).max())


def _one_zero_nan(args: tuple, actual: object) -> bool:
    """One gradient is zero, the other is not, and the answer is nan. (An inf there is left
    to the catalogue, which tells which size the answer divided by.)"""
    zero = [not bool(g.any()) for g in args]
    return zero[0] != zero[1] and isinstance(actual, float) and math.isnan(actual)


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
                "Take the cases of the prompt one at a time: which number is the same for two "
                "gradients of size 1e-6 and for the same pair times 1e12, and which stays "
                "finite, and the same, when you swap them or when one of them is zero?",
                "把题目里的情形一个一个地过：什么样的数，对大小为 1e-6 的两个梯度和把它们都乘以 "
                "1e12 之后的两个梯度相同？交换两者，或者其中一个为零时，什么样的数仍然有限、而且不变？",
            ),
            Msg(
                "Measure the whole gradient at once, by its length (torch.linalg.vector_norm), "
                "not entry by entry: the length of the difference, over a length that belongs "
                "to neither gradient alone and is zero only when both are. Check your function "
                "on the prompt's examples; return a Python float.",
                "把整个梯度一起量，用它的长度（torch.linalg.vector_norm），不要逐个分量地比："
                "差的长度，除以一个不单属于某一个梯度、并且只有两者都为零时才为零的长度。"
                "用题目里的例子检验你的函数；返回 Python 的 float。",
            ),
        ),
        edge_cases=lambda: [
            (torch.tensor([0.0, 2.0], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)),
            (torch.zeros(2, dtype=torch.float64), torch.tensor([0.0, -3e-9], dtype=torch.float64)),
            (torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)),
            (
                torch.tensor([1.0, -1.0], dtype=torch.float64),
                torch.tensor([-1.0, 1.0], dtype=torch.float64),
            ),
            (torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.2, dtype=torch.float64)),
            (
                torch.tensor([2e6, -1e6, 3e-2], dtype=torch.float64),
                torch.tensor([2e6 + 0.01, -1e6, 3e-2 + 0.01], dtype=torch.float64),
            ),
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
                    "Your function returns nan (0 / 0) when both gradients are zero: two equal "
                    "gradients differ by nothing, whatever their size, so say 0.0.",
                    "两个梯度都为零时你的函数返回了 nan（0 / 0）：两个相等的梯度之间毫无差异，"
                    "不论它们多大，所以应返回 0.0。",
                ),
            ),
            (
                _one_zero_nan,
                Msg(
                    "Your function returns nan when one gradient is zero and the other is not. "
                    "A backward that returns zeros where the true gradient is not zero is a "
                    "real mistake, and a check must measure it: its relative error is a number.",
                    "一个梯度为零、另一个不为零时，你的函数返回了 nan。backward 在真实梯度不为零的地方"
                    "返回零，是真实存在的错误，检验必须能量出来：它的相对误差应当是一个数。",
                ),
            ),
        ),
        mistakes=(
            Mistake(
                "absolute_error",
                lambda g1, g2: float(_norm(g1 - g2)),
                Msg(
                    "You returned the size of the difference itself, an absolute error: it "
                    "changes when both gradients are scaled alike, so the same mistake looks "
                    "huge in a gradient of size 1e6 and negligible in one of size 1e-6.",
                    "你返回的是差的大小本身，也就是绝对误差：把两个梯度同时放大或缩小，它就跟着变，"
                    "于是同样的错误在大小为 1e6 的梯度里显得很严重，在大小为 1e-6 的梯度里却微不足道。",
                ),
            ),
            Mistake(
                "second_norm_only",
                lambda g1, g2: float(_norm(g1 - g2) / _norm(g2)),
                Msg(
                    "You divided by the size of the second gradient only: swapping the two "
                    "changes your answer, and it is infinite when the second one is zero.",
                    "你只除以了第二个梯度的大小：交换两个梯度，结果就变了；第二个梯度为零时，"
                    "结果是无穷大。",
                ),
            ),
            Mistake(
                "first_norm_only",
                lambda g1, g2: float(_norm(g1 - g2) / _norm(g1)),
                Msg(
                    "You divided by the size of the first gradient only: swapping the two "
                    "changes your answer, and it is infinite when the first one is zero.",
                    "你只除以了第一个梯度的大小：交换两个梯度，结果就变了；第一个梯度为零时，"
                    "结果是无穷大。",
                ),
            ),
            Mistake(
                "smaller_norm",
                lambda g1, g2: float(_norm(g1 - g2) / torch.minimum(_norm(g1), _norm(g2))),
                Msg(
                    "You divided by the smaller of the two sizes: that is infinite as soon as "
                    "one gradient is zero, and it gives 4 rather than 0.8 for 1 against 0.2.",
                    "你除以的是两个大小中较小的那个：只要有一个梯度为零，结果就是无穷大；"
                    "而且对 1 和 0.2 它给出 4，而不是 0.8。",
                ),
            ),
            Mistake(
                "sum_of_norms",
                lambda g1, g2: float(_norm(g1 - g2) / (_norm(g1) + _norm(g2))),
                Msg(
                    "You divided by the sum of the two sizes: a gradient against its negative "
                    "then scores 1 rather than 2, and 1 against 0.2 scores 0.67 rather than 0.8.",
                    "你除以的是两个大小之和：这样一个梯度和它的相反数只得到 1，而不是 2；"
                    "1 和 0.2 得到 0.67，而不是 0.8。",
                ),
            ),
            Mistake(
                "difference_of_norms",
                lambda g1, g2: float(
                    (_norm(g1) - _norm(g2)).abs() / torch.maximum(_norm(g1), _norm(g2))
                ),
                Msg(
                    "You compared the sizes of the two gradients, not the gradients: two "
                    "gradients of the same length that point in different directions (g and −g) "
                    "score 0. Take the size of their difference.",
                    "你比较的是两个梯度的大小，而不是梯度本身：长度相同、方向不同的两个梯度"
                    "（比如 g 和 −g）得分为 0。应该量的是它们之差的大小。",
                ),
            ),
            Mistake(
                "elementwise_worst",
                _elementwise_worst,
                Msg(
                    "You took each entry's relative error and kept the worst: a tiny entry next "
                    "to huge ones then decides alone, so rounding in an entry of size 1e-2 "
                    "beside entries of size 1e6 reads as a large error. Judge the gradient as "
                    "one vector.",
                    "你逐个分量地求相对误差，再取最大的那个：这样一来，夹在巨大分量中间的一个极小分量"
                    "就能单独左右结果，大小为 1e6 的分量旁边、大小为 1e-2 的分量上的舍入误差，"
                    "也会被当成大错。请把梯度当作一个整体的向量来判断。",
                ),
            ),
            Mistake(
                "sums_not_norms",
                lambda g1, g2: float(
                    (g1 - g2).sum().abs() / torch.maximum(g1.sum().abs(), g2.sum().abs())
                ),
                Msg(
                    "You measured the gradients by the sum of their entries: entries of "
                    "opposite signs cancel, so a gradient with two entries swapped scores 0. "
                    "Measure them by their length.",
                    "你用各分量之和来衡量梯度：正负分量相互抵消，于是两个分量互换了位置的梯度得分为 0。"
                    "请用长度来衡量。",
                ),
            ),
        ),
        asks="build",
        novel="a relative error that means the same for gradients of any size, treats both "
        "alike, and stays a number at zero: the page shows why |a − b| and |a − b| / |b| "
        "mislead, and the cases, not the formula",
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
        novel="which of ten hand-written backwards gradcheck rejects, derived before running: "
        "the page shows one wrong backward and its report",
        mistakes=(
            Mistake(
                "incoming_gradient_ignored",
                lambda name: name in {"D", "E", "H"},
                Msg(
                    "Some of your predictions accept a backward that does not use the incoming "
                    "gradient g. Ask of every row: is g in the formula, even when the output is a "
                    "scalar? gradcheck calls backward with other incoming gradients too.",
                    "你有的预测接受了没有用到上游梯度 g 的 backward。请对每一行都问一问：公式里有 g 吗？"
                    "即使输出是标量也要有：gradcheck 还会用别的上游梯度调用 backward。",
                ),
            ),
            Mistake(
                "inner_derivative",
                lambda name: name in {"B", "D", "F", "H", "J"},
                Msg(
                    "Some of your predictions go wrong on a composed function: when a forward "
                    "applies one function to the result of another, the chain rule multiplies by "
                    "the inner function's derivative too. Derive those rows again.",
                    "你有的预测在复合函数上出了错：forward 把一个函数作用在另一个函数的结果上时，"
                    "链式法则还要乘上内层函数的导数。请把这些行重新推导一遍。",
                ),
            ),
            Mistake(
                "tanh_derivative",
                lambda name: name in {"B", "D", "E", "I", "J"},
                Msg(
                    "Some of your predictions mix up a derivative written with the input x and one "
                    "written with the forward's output: for each row, check which of the two the "
                    "formula uses, and which it should use.",
                    "你有的预测把用输入 x 写出的导数和用 forward 的输出写出的导数弄混了："
                    "请逐行检查公式用的是哪一个，又应该用哪一个。",
                ),
            ),
        ),
    )
)


# Functions with a kink, and the point where a central difference with h = 1e-6 is taken
# (the notebook shows the same table): name -> torch function, point.
KINK_STEP = 1e-6
KINK_TOLERANCE = 1e-6
KINK_ROWS: dict[str, tuple] = {
    "A": (torch.relu, 0.5),
    "B": (torch.relu, 3e-7),
    "C": (torch.relu, 0.0),
    "D": (torch.abs, -2.0),
    "E": (torch.abs, 0.0),
    "F": (torch.abs, 5e-6),
    "G": (lambda x: torch.maximum(x, 0.1 * x), -4e-7),
    "H": (lambda x: torch.relu(x**2 - 1), 1.0),
}


def kink_flagged_reference(name: str) -> bool:
    """Whether the central difference and autograd's (correct) derivative differ by a
    relative error above KINK_TOLERANCE at the row's point."""
    f, point = KINK_ROWS[name]
    x = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    (exact,) = torch.autograd.grad(f(x), x)
    with torch.no_grad():
        approx = (f(x + KINK_STEP) - f(x - KINK_STEP)) / (2 * KINK_STEP)
    return relative_error_reference(approx, exact) > KINK_TOLERANCE


register(
    Exercise(
        id="differentiation.kink_flagged",
        derives=False,
        prediction=True,
        title=Msg(
            "Where does a central difference flag a correct gradient?",
            "中心差分会在哪里把正确的梯度判为错误？",
        ),
        make_args=lambda gen: (
            sorted(KINK_ROWS)[int(torch.randint(0, len(KINK_ROWS), (1,), generator=gen))],
        ),
        items=lambda: [(name,) for name in sorted(KINK_ROWS)],
        reference=kink_flagged_reference,
        kind="value",
        hints=(
            Msg(
                "For each row, ask where the two points x − h and x + h fall: on the same "
                "straight piece of the function, or on both sides of its kink? Then ask what "
                "autograd returns exactly at a kink.",
                "对每一行都问一问：x − h 和 x + h 这两个点落在函数的同一段直线上，"
                "还是落在折点的两侧？再问一问：恰好在折点处，autograd 返回的是什么。",
            ),
            Msg(
                "Compute both numbers for every row: the slope of the chord from x − h to x + h "
                "(h = 1e-6), and the one-sided slope autograd picks at the point itself "
                "(for relu at 0 PyTorch picks 0; for abs at 0, 0). A relative error of 0 / 0 "
                "counts as 0.",
                "每一行都把两个数算出来：从 x − h 到 x + h 的弦的斜率（h = 1e-6），"
                "以及 autograd 在该点本身取的斜率（relu 在 0 处 PyTorch 取 0；abs 在 0 处取 0）。"
                "0 / 0 的相对误差按 0 计。",
            ),
        ),
        forbids=BY_HAND,
        mistakes=(
            Mistake(
                "kinks_ignored",
                lambda name: False,
                Msg(
                    "You predict that a correct gradient always passes. Near a kink the two "
                    "points of a central difference can lie on different pieces of the "
                    "function, and the chord's slope is then neither piece's slope.",
                    "你预测正确的梯度总能通过检查。在折点附近，中心差分的两个点可能落在函数的"
                    "不同分段上，这时弦的斜率既不是这一段的斜率，也不是那一段的。",
                ),
            ),
            Mistake(
                "every_kink_flagged",
                lambda name: name in {"B", "C", "E", "G", "H"},
                Msg(
                    "Some of your predictions flag a point only because it is at a kink. Where "
                    "the function is symmetric about its kink, the chord and autograd's choice "
                    "there can agree: compute both numbers before you decide.",
                    "你有的预测只因为某个点在折点上就判它不通过。如果函数关于折点对称，"
                    "弦的斜率和 autograd 在那里的取值可能正好一致：先把两个数都算出来再下结论。",
                ),
            ),
            Mistake(
                "only_exactly_at_the_kink",
                lambda name: name in {"C", "E", "H"},
                Msg(
                    "Some of your predictions trust every point that is not exactly at a kink. "
                    "A point closer to the kink than h has its two evaluations on both sides "
                    "of it too.",
                    "你有的预测认为只要不是恰好在折点上就没问题。离折点比 h 还近的点，"
                    "两次求值同样会落在折点两侧。",
                ),
            ),
        ),
        asks="predict",
        novel="which points near a kink make a central difference (h = 1e-6) flag a correct "
        "gradient: the page shows one kink, abs just right of 0",
    )
)
