"""Lesson 10 · Checking gradients numerically: central differences, relative error, kinks,
gradcheck.

The exercise ids keep the prefix of the lesson they came from (``differentiation.``); they live
in their own module so that lesson 2's derivative exercises and these can be edited
independently.
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
    fitted = cubic * (float((error * cubic).sum()) / norm)
    return float((error - fitted).abs().max()) > 0.1 * size


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
                "用一个数衡量整个向量的差异，再用梯度本身的大小去归一化，两个梯度要一视同仁。",
            ),
            Msg(
                "Use vector norms (torch.linalg.vector_norm), not element-wise ratios: the norm of "
                "the difference divided by the larger of the two norms, so neither argument is "
                "favoured. When both are zero the error is 0; return a Python float.",
                "用向量范数（torch.linalg.vector_norm），不要逐元素求比值：差的范数除以两个范数中较大的一个，"
                "这样两个梯度的地位相同。两者都为零时误差为 0；返回 Python 的 float。",
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
                    "你只除以了第二个梯度的范数：它为零时结果是无穷大，而且两个梯度的地位不对等。请用较大的那个范数。",
                ),
            ),
        ),
        asks="transcribe",
        novel="",
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
