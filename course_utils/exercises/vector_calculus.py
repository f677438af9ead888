"""Lesson 6 · Jacobians and vector-Jacobian products.

Exercises 2 and 4–6 share one layer, y = W φ(x), and exercise 3 one element-wise f, each
learner with their own member (:mod:`course_utils.layer_functions`): the references are
autograd on that member's function, and the wrong answers below are written for each member
from its derivative, as a learner who slipped would write them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.autograd.functional import jacobian

from course_utils.exercises import BY_HAND, READY_MADE, Exercise, Mistake, Variant, register
from course_utils.i18n import Msg
from course_utils.layer_functions import OUTPUTS, PHIS, YOUR_ELEMENT_WISE, YOUR_LAYER
from course_utils.objects import NamedFunction


def _int(gen: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high + 1, (1,), generator=gen))


def small_f(x: torch.Tensor) -> torch.Tensor:
    """y = [x0·x1, x0 + sin x1, x1²] for x of shape (2,)."""
    return torch.stack([x[0] * x[1], x[0] + torch.sin(x[1]), x[1] ** 2])


def _small_jacobian_by_hand(x, *, cos=True, two=True, swap=False) -> torch.Tensor:
    """Wrong variants of the 3×2 Jacobian, written out the way a learner would."""
    j = torch.zeros(3, 2, dtype=x.dtype)
    j[0, 0], j[0, 1] = (x[0], x[1]) if swap else (x[1], x[0])
    j[1, 0] = 1.0
    j[1, 1] = torch.cos(x[1]) if cos else torch.sin(x[1])
    j[2, 1] = (2 if two else 1) * x[1]
    return j


register(
    Exercise(
        id="vector_calculus.small_jacobian",
        forbids=BY_HAND,
        asks="derive",
        novel="the six partial derivatives of a function the page defines but never differentiates",
        title=Msg("A 3×2 Jacobian by hand", "手算一个 3×2 的雅可比矩阵"),
        make_args=lambda gen: (torch.randn(2, generator=gen) * 2,),
        reference=lambda x: jacobian(small_f, x),
        hints=(
            Msg(
                "A Jacobian has one row per output and one column per input: entry (i, j) is the "
                "derivative of y_i with respect to x_j, holding the other input fixed.",
                "雅可比矩阵每个输出占一行、每个输入占一列：第 (i, j) 个元素是 y_i 对 x_j 的偏导数，"
                "求导时另一个输入保持不变。",
            ),
            Msg(
                "Go through the six entries one by one: a product gives the other factor, sin "
                "gives cos, a square doubles, and an output that does not contain x_j has 0 in "
                "column j. The result is 3 × 2 with the dtype of x.",
                "逐个求出这六个元素：乘积对其中一个因子求导得到另一个因子，sin 的导数是 cos，平方求导"
                "要乘 2；某个输出不含 x_j 时，它在第 j 列的元素是 0。结果是 3 × 2 矩阵，数据类型与 x 相同。",
            ),
        ),
        mistakes=(
            Mistake(
                "transposed",
                lambda x: _small_jacobian_by_hand(x).T,
                Msg(
                    "Your matrix is the transpose: rows are outputs, columns are inputs.",
                    "你的矩阵是转置：行对应输出，列对应输入。",
                ),
            ),
            Mistake(
                "sin_not_differentiated",
                lambda x: _small_jacobian_by_hand(x, cos=False),
                Msg(
                    "In the second row, sin x1 was not differentiated.",
                    "第二行里，sin x1 没有求导。",
                ),
            ),
            Mistake(
                "square_factor_missing",
                lambda x: _small_jacobian_by_hand(x, two=False),
                Msg(
                    "In the third row, the derivative of x1² misses its factor 2.",
                    "第三行里，x1² 的导数漏掉了系数 2。",
                ),
            ),
            Mistake(
                "product_rule_swapped",
                lambda x: _small_jacobian_by_hand(x, swap=True),
                Msg(
                    "In the first row, ∂(x0·x1)/∂x0 is x1 and ∂(x0·x1)/∂x1 is x0: yours are the "
                    "other way round.",
                    "第一行里，∂(x0·x1)/∂x0 是 x1，∂(x0·x1)/∂x1 是 x0：你的正好反了。",
                ),
            ),
        ),
        edge_cases=lambda: [(torch.zeros(2),), (torch.tensor([1.0, -2.0]),)],
    )
)


# --- y = W φ(x): the learner's own φ (exercises 2, 4, 5, 6) ---------------------------------
# φ′ of each member, by name: what the learner derives. No member's φ′ is another member's φ,
# so a slip that differentiates φ where it should not is never another member's right answer.
PHI_PRIMES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sin(x)": torch.cos,
    "tanh(x)": lambda x: 1 - torch.tanh(x) ** 2,
    "arctan(x)": lambda x: 1 / (1 + x**2),
    "log(1 + exp x)": torch.sigmoid,
}
assert set(PHI_PRIMES) == {f.name for f in PHIS}


def _w_x(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    m, n = _int(gen, 1, 5), _int(gen, 1, 5)
    return torch.randn(m, n, generator=gen), torch.randn(n, generator=gen) * 2


def _w_x_and_output_vector(gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """W, x and a random vector shaped like y = W φ(x) (an upstream gradient or a target)."""
    w, x = _w_x(gen)
    return w, x, torch.randn(w.shape[0], generator=gen)


def _layer_members(
    reference: Callable[[NamedFunction], Callable[..., torch.Tensor]],
    wrong: dict[str, tuple[Callable[..., Callable[..., torch.Tensor]], Msg]],
) -> tuple[Variant, ...]:
    """One Variant per φ: ``reference(φ)`` and each ``wrong[name] = (make(φ, φ′), msg)``."""
    return tuple(
        Variant(
            reference=reference(phi),
            mistakes=tuple(
                Mistake(name, make(phi, PHI_PRIMES[phi.name]), msg)
                for name, (make, msg) in wrong.items()
            ),
        )
        for phi in PHIS
    )


LAYER_HINT_SHAPE = Msg(
    "Write one output as a sum over the inputs, y_i = Σ_j W[i, j] φ(x_j), and differentiate "
    "it with respect to one x_j: only one term of the sum depends on it.",
    "把一个输出写成对输入的求和 y_i = Σ_j W[i, j] φ(x_j)，再对某一个 x_j 求导："
    "和式中只有一项与它有关。",
)


def _jacobian_of(phi: NamedFunction):
    return lambda w, x: jacobian(lambda t: w @ phi(t), x)


register(
    Exercise(
        id="vector_calculus.layer_jacobian",
        forbids=BY_HAND,
        asks="derive",
        novel="the Jacobian of y = W φ(x) for the learner's own φ; the page differentiates "
        "other functions only",
        title=Msg("The Jacobian of y = W φ(x)", "y = W φ(x) 的雅可比矩阵"),
        make_args=_w_x,
        family=YOUR_LAYER,
        variants=_layer_members(
            _jacobian_of,
            {
                "phi_not_differentiated": (
                    lambda phi, d: lambda w, x: w * phi(x),
                    Msg(
                        "Your entries use φ(x_j) itself: the chain rule multiplies W[i, j] by "
                        "the derivative φ′(x_j).",
                        "你的元素用的是 φ(x_j) 本身：链式法则要把 W[i, j] 乘以导数 φ′(x_j)。",
                    ),
                ),
                "matrix_vector": (
                    lambda phi, d: lambda w, x: w @ d(x),
                    Msg(
                        "You returned one number per output, a matrix-vector product: the "
                        "Jacobian has one entry per output and input, m × n.",
                        "你返回的是矩阵-向量乘积，每个输出只有一个数：雅可比矩阵的每个“输出-输入”"
                        "组合都有一个元素，共 m × n 个。",
                    ),
                ),
                "transposed": (
                    lambda phi, d: lambda w, x: (w * d(x)).T,
                    Msg(
                        "Your matrix is the transpose: rows are outputs, columns are inputs.",
                        "你的矩阵是转置：行对应输出，列对应输入。",
                    ),
                ),
            },
        ),
        hints=(
            LAYER_HINT_SHAPE,
            Msg(
                "Derive φ′ first, on paper. The Jacobian has the shape of W (outputs × inputs), "
                "and every entry of column j shares one factor that depends on x_j alone: "
                "broadcasting applies a per-column factor without a loop.",
                "先在纸上推导出 φ′。雅可比矩阵的形状与 W 相同（输出 × 输入），第 j 列的每个元素"
                "都有同一个只依赖 x_j 的因子：借助广播，可以不写循环就给每一列乘上各自的因子。",
            ),
        ),
        mistakes=(
            Mistake(
                "w_alone",
                lambda w, x: w.clone(),
                Msg(
                    "Your Jacobian is W alone: the chain rule also multiplies by the derivative "
                    "of φ.",
                    "你的雅可比矩阵只有 W：链式法则还要乘上 φ 的导数。",
                ),
            ),
        ),
        edge_cases=lambda: [
            (torch.eye(3), torch.zeros(3)),
            (torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([0.5, -1.0, 2.0])),
            (
                torch.tensor([[2.0], [-1.0]], dtype=torch.float64),
                torch.tensor([1.0], dtype=torch.float64),
            ),
        ],
    )
)


def _x_grad_of(phi: NamedFunction):
    def reference(w: torch.Tensor, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        x = x.detach().clone().requires_grad_(True)
        (w @ phi(x)).backward(gradient=v)
        return x.grad

    return reference


register(
    Exercise(
        id="vector_calculus.vjp",
        forbids=BY_HAND,
        asks="derive",
        novel="vᵀJ for the learner's layer in closed form, without the m × n Jacobian; the "
        "page computes vector-Jacobian products with autograd only",
        title=Msg("x.grad after y.backward(gradient=v)", "y.backward(gradient=v) 之后的 x.grad"),
        make_args=_w_x_and_output_vector,
        family=YOUR_LAYER,
        variants=_layer_members(
            _x_grad_of,
            {
                "per_output": (
                    lambda phi, d: lambda w, x, v: v * (w @ d(x)),
                    Msg(
                        "Your result has one number per output; x.grad has one per input x_j. "
                        "The sum runs over the outputs.",
                        "你的结果每个输出一个数；而 x.grad 应该每个输入 x_j 一个数。求和是沿输出进行的。",
                    ),
                ),
                "v_ignored": (
                    lambda phi, d: lambda w, x, v: w.sum(dim=0) * d(x),
                    Msg(
                        "Your result ignores v: it is what backward() gives with v = ones.",
                        "你的结果没有用到 v：这是 v 全为 1 时 backward() 给出的结果。",
                    ),
                ),
                "phi_not_differentiated": (
                    lambda phi, d: lambda w, x, v: (v @ w) * phi(x),
                    Msg(
                        "Your product scales each input's entry by φ(x_j) itself: the chain rule "
                        "needs the derivative φ′(x_j).",
                        "你的乘积给每个输入对应的元素乘上的是 φ(x_j) 本身：链式法则需要的是导数 φ′(x_j)。",
                    ),
                ),
            },
        ),
        hints=(
            Msg(
                "backward(gradient=v) computes the vector-Jacobian product vᵀJ: one number per "
                "input x_j, a sum over the outputs i weighted by v_i. Autograd never builds J, "
                "and you need not either.",
                "backward(gradient=v) 计算的是向量-雅可比积 vᵀJ：每个输入 x_j 对应一个数，"
                "它是对输出 i 以 v_i 为权重的求和。autograd 从不构造 J，你也不必。",
            ),
            Msg(
                "Start from your Jacobian of exercise 2, entry by entry: for each input, sum "
                "v_i times the entry over the outputs. The factor that depends only on x_j "
                "comes out of that sum, and what is left is a product of v with W. The result "
                "is shaped like x.",
                "从练习 2 里你求出的雅可比矩阵出发，逐个元素地看：对每个输入，把 v_i 乘以对应元素后"
                "沿输出求和。只依赖 x_j 的那个因子可以提到求和号外面，剩下的是 v 与 W 的乘积。"
                "结果与 x 形状相同。",
            ),
        ),
        mistakes=(
            Mistake(
                "phi_prime_missing",
                lambda w, x, v: v @ w,
                Msg(
                    "Your product leaves out the derivative of φ: each input's entry is scaled "
                    "by φ′(x_j).",
                    "你的乘积漏掉了 φ 的导数：每个输入对应的元素都要乘上 φ′(x_j)。",
                ),
            ),
        ),
        edge_cases=lambda: [
            (torch.eye(2), torch.zeros(2), torch.ones(2)),
            (
                torch.tensor([[1.0, -1.0], [2.0, 0.5], [0.0, 3.0]]),
                torch.tensor([0.2, 1.4]),
                torch.tensor([1.0, 0.0, 0.0]),
            ),
        ],
    )
)


def _w_grad_of(phi: NamedFunction):
    def reference(w: torch.Tensor, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        w = w.detach().clone().requires_grad_(True)
        (w @ phi(x)).backward(gradient=v)
        return w.grad

    return reference


register(
    Exercise(
        id="vector_calculus.weight_grad",
        forbids=BY_HAND,
        asks="derive",
        novel="∂l/∂W, the vector-Jacobian product that fills a weight's .grad; the page "
        "derives only gradients with respect to inputs",
        title=Msg("W.grad after y.backward(gradient=v)", "y.backward(gradient=v) 之后的 W.grad"),
        make_args=_w_x_and_output_vector,
        family=YOUR_LAYER,
        variants=_layer_members(
            _w_grad_of,
            {
                "phi_differentiated": (
                    lambda phi, d: lambda w, x, v: torch.outer(v, d(x)),
                    Msg(
                        "You used φ′(x_j): y depends on W through the products W[i, j]·φ(x_j), "
                        "and x is held fixed when you differentiate with respect to W, so φ is "
                        "not differentiated here.",
                        "你用了 φ′(x_j)：y 通过乘积 W[i, j]·φ(x_j) 依赖 W；对 W 求导时 x 保持不变，"
                        "所以这里不对 φ 求导。",
                    ),
                ),
                "transposed": (
                    lambda phi, d: lambda w, x, v: torch.outer(phi(x), v),
                    Msg(
                        "Your gradient is the transpose: W.grad has the shape of W, one row per "
                        "output (weighted by v_i) and one column per input.",
                        "你的梯度是转置：W.grad 与 W 形状相同，每个输出占一行（以 v_i 加权），"
                        "每个输入占一列。",
                    ),
                ),
                "x_grad_instead": (
                    lambda phi, d: lambda w, x, v: (v @ w) * d(x),
                    Msg(
                        "You returned x.grad, the gradient with respect to the input (exercise "
                        "4). This one asks for the gradient with respect to W, shaped like W.",
                        "你返回的是 x.grad，即对输入的梯度（练习 4）。这道题要的是对 W 的梯度，"
                        "形状与 W 相同。",
                    ),
                ),
                "times_w": (
                    lambda phi, d: lambda w, x, v: w * torch.outer(v, phi(x)),
                    Msg(
                        "Your entries are multiplied by W[i, j]: the derivative of W[i, j]·φ(x_j) "
                        "with respect to W[i, j] no longer contains W.",
                        "你的元素多乘了 W[i, j]：W[i, j]·φ(x_j) 对 W[i, j] 求导后，结果里已经没有 W 了。",
                    ),
                ),
                "v_ignored": (
                    lambda phi, d: lambda w, x, v: phi(x).expand(w.shape).clone(),
                    Msg(
                        "Your result ignores v: every row is the same. Row i is weighted by "
                        "v_i, how much the loss cares about output i.",
                        "你的结果没有用到 v：每一行都一样。第 i 行要以 v_i 加权，它表示损失对第 i 个"
                        "输出有多敏感。",
                    ),
                ),
            },
        ),
        hints=(
            Msg(
                "W.grad has one number per entry W[i, j]. Which outputs does W[i, j] appear in, "
                "and what does it multiply there?",
                "W.grad 为每个 W[i, j] 存一个数。W[i, j] 出现在哪些输出里？它在那里乘的是什么？",
            ),
            Msg(
                "W[i, j] appears in y_i alone, so the sum over outputs keeps one term, weighted "
                "by v_i. The answer has the shape of W, (m, n), and is made of two vectors you "
                "already have: only one way of combining them gives that shape.",
                "W[i, j] 只出现在 y_i 里，所以沿输出的求和只剩一项，权重是 v_i。答案与 W 形状相同，"
                "为 (m, n)，由你手头已有的两个向量组成：只有一种组合方式能得到这个形状。",
            ),
        ),
        mistakes=(
            Mistake(
                "phi_missing",
                lambda w, x, v: torch.outer(v, x),
                Msg(
                    "You used x_j where y has φ(x_j): W multiplies φ(x), not x.",
                    "你用的是 x_j，而 y 里是 φ(x_j)：W 乘的是 φ(x)，不是 x。",
                ),
            ),
        ),
        edge_cases=lambda: [
            (torch.eye(2), torch.tensor([0.5, -1.0]), torch.tensor([1.0, 2.0])),
            (
                torch.tensor([[1.0, -1.0], [2.0, 0.5], [0.0, 3.0]], dtype=torch.float64),
                torch.tensor([0.2, 1.4], dtype=torch.float64),
                torch.tensor([1.0, 0.0, -2.0], dtype=torch.float64),
            ),
        ],
    )
)


def _loss_grad_of(phi: NamedFunction):
    def reference(w: torch.Tensor, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x = x.detach().clone().requires_grad_(True)
        loss = 0.5 * ((w @ phi(x) - target) ** 2).sum()
        loss.backward()
        return x.grad

    return reference


register(
    Exercise(
        id="vector_calculus.loss_grad",
        forbids=BY_HAND,
        asks="derive",
        novel="∂l/∂x through a squared-error loss: the learner finds v = ∂l/∂y themselves and "
        "chains it through their own layer",
        title=Msg("∂l/∂x through a loss", "经过损失求 ∂l/∂x"),
        make_args=_w_x_and_output_vector,
        family=YOUR_LAYER,
        variants=_layer_members(
            _loss_grad_of,
            {
                "target_minus_output": (
                    lambda phi, d: lambda w, x, t: ((t - w @ phi(x)) @ w) * d(x),
                    Msg(
                        "Your v is t − y: the sign is reversed. The derivative of ½(y − t)² "
                        "with respect to y has the output first.",
                        "你的 v 是 t − y：符号反了。½(y − t)² 对 y 求导，输出在前、目标在后。",
                    ),
                ),
                "half_forgotten": (
                    lambda phi, d: lambda w, x, t: (2 * (w @ phi(x) - t) @ w) * d(x),
                    Msg(
                        "Your gradient is twice the right one: the ½ in the loss cancels the "
                        "factor 2 of the square.",
                        "你的梯度是正确值的两倍：损失里的 ½ 正好抵消平方求导带来的系数 2。",
                    ),
                ),
                "chain_stopped": (
                    lambda phi, d: lambda w, x, t: (w @ phi(x) - t) @ w,
                    Msg(
                        "You stopped at ∂l/∂φ(x): the last link, the derivative of φ, is missing.",
                        "你停在了 ∂l/∂φ(x)：漏掉了最后一环 φ 的导数。",
                    ),
                ),
                "target_as_v": (
                    lambda phi, d: lambda w, x, t: (t @ w) * d(x),
                    Msg(
                        "You used the target t as v: v = ∂l/∂y is the residual, output minus "
                        "target.",
                        "你把目标值 t 当成了 v：v = ∂l/∂y 是残差，即输出减去目标值。",
                    ),
                ),
            },
        ),
        hints=(
            Msg(
                "The loss is a function of y, and y a function of x. What is the gradient of l "
                "with respect to y, and what did exercise 4 do with such a vector?",
                "损失是 y 的函数，y 又是 x 的函数。l 对 y 的梯度是什么？练习 4 是怎样使用这样一个向量的？",
            ),
            Msg(
                "Differentiate ½(y_i − t_i)² with respect to y_i: the ½ cancels the 2 of the "
                "square, and y is computed from W and x. Mind the order of the subtraction.",
                "对 y_i 求 ½(y_i − t_i)² 的导数：½ 正好抵消平方求导带来的 2，y 由 W 和 x 算出。"
                "注意减法的顺序。",
            ),
        ),
        edge_cases=lambda: [
            (torch.eye(3), torch.zeros(3), torch.zeros(3)),
            (torch.tensor([[1.0, 2.0]]), torch.tensor([0.5, 1.5]), torch.tensor([3.0])),
        ],
    )
)


# --- an element-wise f, its derivative written from its output (exercise 3) -----------------
# Each member: its inverse (to run autograd from x = f⁻¹(y)) and its slips, written in y.
INVERSES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid(x)": torch.logit,
    "tanh(x)": torch.atanh,
    "sqrt(x)": lambda y: y**2,
    "exp(-x)": lambda y: -torch.log(y),
}
assert set(INVERSES) == {f.name for f in OUTPUTS}


def _output_in_range(gen: torch.Generator) -> tuple[torch.Tensor]:
    """y in (0.02, 0.98): an output every member of the family can give."""
    return (torch.rand(_int(gen, 1, 7), generator=gen) * 0.96 + 0.02,)


def _derivative_from_output(f: NamedFunction):
    def reference(y: torch.Tensor) -> torch.Tensor:
        x = INVERSES[f.name](y.detach().double()).requires_grad_(True)
        f(x).backward(torch.ones_like(x))
        return x.grad.to(y.dtype)

    return reference


def _diagonal_matrix(f: NamedFunction):
    return lambda y: torch.diag(_derivative_from_output(f)(y))


FULL_MATRIX = Msg(
    "You returned the whole n × n Jacobian; the exercise asks for its diagonal, a vector shaped "
    "like y.",
    "你返回的是整个 n × n 雅可比矩阵；题目要的是它的对角线，一个与 y 形状相同的向量。",
)
OUTPUT_ITSELF = Msg(
    "You returned y itself, not its derivative with respect to x.",
    "你返回的是 y 本身，而不是它对 x 的导数。",
)
SLIPS: dict[str, dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], Msg]]] = {
    "sigmoid(x)": {
        "output_itself": (lambda y: y.clone(), OUTPUT_ITSELF),
        "one_factor": (
            lambda y: 1 - y,
            Msg(
                "Your derivative keeps one of its two factors: written with y, σ′ is a product.",
                "你的导数只保留了两个因子中的一个：用 y 表示时，σ′ 是一个乘积。",
            ),
        ),
        "numerator_lost": (
            lambda y: y**2,
            Msg(
                "Your derivative is y²: the quotient rule gives e⁻ˣ/(1 + e⁻ˣ)², and its "
                "numerator e⁻ˣ is lost. Write e⁻ˣ with y too.",
                "你的导数是 y²：商的求导法则给出 e⁻ˣ/(1 + e⁻ˣ)²，你丢掉了分子 e⁻ˣ。"
                "把 e⁻ˣ 也用 y 表示出来。",
            ),
        ),
    },
    "tanh(x)": {
        "output_itself": (lambda y: y.clone(), OUTPUT_ITSELF),
        "square_missing": (
            lambda y: 1 - y,
            Msg(
                "Your derivative is 1 − y: tanh′ written with y has y squared.",
                "你的导数是 1 − y：用 y 表示时，tanh′ 里的 y 是平方。",
            ),
        ),
        "sign_flipped": (
            lambda y: 1 + y**2,
            Msg(
                "Your derivative is 1 + y², the derivative of tan, not of tanh: the square "
                "is subtracted.",
                "你的导数是 1 + y²，这是 tan 的导数，不是 tanh 的：平方项前面是减号。",
            ),
        ),
    },
    "sqrt(x)": {
        "output_itself": (lambda y: y.clone(), OUTPUT_ITSELF),
        "x_form_in_y": (
            lambda y: 1 / (2 * torch.sqrt(y)),
            Msg(
                "You wrote the derivative in x, 1/(2√x), and put y where x was: "
                "rewrite √x with y instead.",
                "你写出了关于 x 的导数 1/(2√x)，再把 x 直接换成了 y：应该把 √x 用 y 表示。",
            ),
        ),
        "half_missing": (
            lambda y: 1 / y,
            Msg(
                "Your derivative is twice the right one: the power rule brings down ½.",
                "你的导数是正确值的两倍：幂法则会带下来一个系数 ½。",
            ),
        ),
    },
    "exp(-x)": {
        "output_itself": (
            lambda y: y.clone(),
            Msg(
                "You returned y itself: the chain rule multiplies by the derivative of −x, "
                "which changes the sign.",
                "你返回的是 y 本身：链式法则还要乘上 −x 的导数，符号因此改变。",
            ),
        ),
        "log_derivative": (
            lambda y: -1 / y,
            Msg(
                "Your derivative is −1/y, the derivative of x = −log y with respect to y: "
                "that is dx/dy, the other way round.",
                "你的导数是 −1/y，这是 x = −log y 对 y 的导数，即 dx/dy，方向反了。",
            ),
        ),
    },
}
assert set(SLIPS) == {f.name for f in OUTPUTS}


def _element_wise_member(f: NamedFunction) -> Variant:
    slips = SLIPS[f.name]
    return Variant(
        reference=_derivative_from_output(f),
        mistakes=tuple(Mistake(name, fn, msg) for name, (fn, msg) in slips.items())
        + (Mistake("full_matrix", _diagonal_matrix(f), FULL_MATRIX),),
    )


register(
    Exercise(
        id="vector_calculus.from_output",
        forbids=BY_HAND,
        asks="derive",
        novel="the derivative of the learner's own element-wise f, written with its output y "
        "alone; the page gives no derivative of it",
        title=Msg("An element-wise Jacobian, from the output", "由输出求逐元素函数的雅可比矩阵"),
        make_args=_output_in_range,
        family=YOUR_ELEMENT_WISE,
        variants=tuple(_element_wise_member(f) for f in OUTPUTS),
        hints=(
            Msg(
                "Each y_i depends on x_i alone, so only the diagonal of J can be non-zero, and "
                "entry i is dy_i/dx_i. Differentiate f with respect to x first; then ask how "
                "the result can be written with y = f(x).",
                "每个 y_i 只依赖 x_i，所以 J 只有对角线上可能不为零，第 i 个元素是 dy_i/dx_i。"
                "先对 x 求 f 的导数，再想想结果怎样用 y = f(x) 表示。",
            ),
            Msg(
                "Look in your derivative for the pieces of f itself (a power of f, or the parts "
                "of its fraction) and replace each by y; check your formula at one point, say "
                "x = 0 or x = 1, before you write it. Return a vector shaped like y, not the "
                "n × n matrix.",
                "在你的导数里找出 f 本身的组成部分（f 的某个幂，或它那个分式的各部分），"
                "把它们换成 y；写代码之前先在一个点上验算，比如 x = 0 或 x = 1。返回与 y 形状相同的"
                "向量，而不是 n × n 矩阵。",
            ),
        ),
        edge_cases=lambda: [
            (torch.tensor([0.5]),),
            (torch.tensor([0.1, 0.9, 0.25]),),
            (torch.tensor([0.3, 0.7], dtype=torch.float64),),
        ],
    )
)


# --- broadcasting in the forward pass, a sum in the backward pass (exercise 7) ---------------
def _broadcast_case(gen: torch.Generator) -> tuple[torch.Tensor, tuple[int, ...]]:
    """A gradient and the shape of a tensor broadcast to its shape (at least one dimension is)."""
    shape = [_int(gen, 2, 4) if _int(gen, 0, 2) else 1 for _ in range(_int(gen, 1, 3))]
    full = [_int(gen, 2, 4) if size == 1 else size for size in shape]
    lead = [_int(gen, 2, 3) for _ in range(_int(gen, 0, 2))]
    if not lead and full == shape:
        lead = [_int(gen, 2, 3)]
    grad = torch.randn(*lead, *full, generator=gen)
    return grad, tuple(shape)


def _summed_to(grad: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    t = torch.zeros(shape, dtype=grad.dtype, requires_grad=True)
    t.expand(grad.shape).backward(grad)
    return t.grad


def _broadcast_dims(grad: torch.Tensor, shape: tuple[int, ...]) -> tuple[list[int], list[int]]:
    """The leading dimensions shape lacks, and those where shape has 1 and grad has more."""
    lead = grad.dim() - len(shape)
    ones = [lead + i for i, size in enumerate(shape) if size == 1 and grad.shape[lead + i] > 1]
    return list(range(lead)), ones


def _averaged(grad, shape):
    lead, ones = _broadcast_dims(grad, shape)
    out = grad.mean(dim=ones, keepdim=True) if ones else grad
    return out.mean(dim=lead) if lead else out


def _leading_only(grad, shape):
    lead, _ = _broadcast_dims(grad, shape)
    return grad.sum(dim=lead) if lead else grad.clone()


def _keepdim_dropped(grad, shape):
    lead, ones = _broadcast_dims(grad, shape)
    return grad.sum(dim=lead + ones) if lead + ones else grad.clone()


def _first_copy(grad, shape):
    lead, ones = _broadcast_dims(grad, shape)
    index = tuple(
        0 if d in lead else slice(0, 1) if d in ones else slice(None) for d in range(grad.dim())
    )
    return grad[index].clone()


register(
    Exercise(
        id="vector_calculus.sum_to_shape",
        # Tensor.sum_to_size is the rule in one call (the prompt says so): not the learner's own
        forbids=BY_HAND | {READY_MADE},
        asks="build",
        novel="the backward of broadcasting for any shapes, the rule the page states on one "
        "bias vector; every autograd engine has this piece",
        title=Msg("The gradient of a broadcast tensor", "被广播的张量的梯度"),
        make_args=_broadcast_case,
        reference=_summed_to,
        hints=(
            Msg(
                "Each entry of the small tensor was used many times in the forward pass, once "
                "per copy the broadcast made. What does the chain rule do with a value that "
                "reaches the loss along several paths?",
                "小张量的每个元素在前向传播中被用了很多次，广播造出的每个副本各用一次。"
                "一个值沿多条路径影响损失时，链式法则怎样处理？",
            ),
            Msg(
                "Broadcasting does two things: it adds dimensions in front, and it stretches "
                "dimensions of size 1. Undo each: the added dimensions disappear, the stretched "
                "ones stay with size 1. Compare grad.shape with shape from the right.",
                "广播做了两件事：在前面添加维度，以及把大小为 1 的维度拉长。逐一撤销：添加的维度要去掉，"
                "拉长的维度要保留、大小回到 1。从右往左对照 grad.shape 和 shape。",
            ),
        ),
        mistakes=(
            Mistake(
                "summed_to_scalar",
                lambda grad, shape: grad.sum(),
                Msg(
                    "You summed over every dimension: only the broadcast ones are summed, and "
                    "the result has the shape asked for.",
                    "你对所有维度都求了和：只对被广播的维度求和，结果的形状要与题目给出的形状相同。",
                ),
            ),
            Mistake(
                "averaged",
                _averaged,
                Msg(
                    "You averaged the copies: each copy adds its own contribution to the loss, "
                    "so their gradients add up. Sum, do not average.",
                    "你对各个副本取了平均：每个副本都各自对损失有贡献，所以它们的梯度要相加。"
                    "要求和，不要取平均。",
                ),
            ),
            Mistake(
                "leading_dims_only",
                _leading_only,
                Msg(
                    "You summed only the dimensions added in front: a dimension of size 1 that "
                    "was stretched is broadcast too, and its copies add up as well.",
                    "你只对前面添加的维度求了和：被拉长的大小为 1 的维度也是广播出来的，它的各个副本同样要相加。",
                ),
            ),
            Mistake(
                "keepdim_dropped",
                _keepdim_dropped,
                Msg(
                    "Your sums are right but a dimension of size 1 disappeared: the gradient has "
                    "exactly the tensor's shape, size-1 dimensions included.",
                    "你的求和是对的，但一个大小为 1 的维度不见了：梯度的形状必须与张量完全相同，"
                    "包括大小为 1 的维度。",
                ),
            ),
            Mistake(
                "first_copy",
                _first_copy,
                Msg(
                    "You kept the gradient of one copy: every copy was used in the forward "
                    "pass, so all their gradients add up.",
                    "你只保留了一个副本的梯度：前向传播用到了每个副本，所以要把它们的梯度全部加起来。",
                ),
            ),
        ),
        edge_cases=lambda: [
            (torch.arange(12.0).reshape(4, 3), (3,)),
            (torch.arange(24.0).reshape(2, 4, 3) / 10, (4, 1)),
            (torch.ones(3, 5, dtype=torch.float64), (1, 5)),
            (torch.arange(6.0).reshape(2, 3), (2, 3)),
        ],
    )
)
