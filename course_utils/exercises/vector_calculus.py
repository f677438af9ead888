"""Lesson 5 · Vector calculus with autograd: Jacobians and vector-Jacobian products."""

from __future__ import annotations

import torch
from torch.autograd.functional import jacobian

from course_utils.exercises import BY_HAND, Exercise, Mistake, register
from course_utils.i18n import Msg


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


def _w_x(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    m, n = _int(gen, 1, 5), _int(gen, 1, 5)
    return torch.randn(m, n, generator=gen), torch.randn(n, generator=gen) * 2


def _layer(w: torch.Tensor):
    return lambda x: w @ torch.sin(x)


register(
    Exercise(
        id="vector_calculus.layer_jacobian",
        forbids=BY_HAND,
        title=Msg("The Jacobian of y = W sin(x)", "y = W sin(x) 的雅可比矩阵"),
        make_args=_w_x,
        reference=lambda w, x: jacobian(_layer(w), x),
        hints=(
            Msg(
                "Write one output as a sum over the inputs, y_i = Σ_j W[i, j] sin(x_j), and "
                "differentiate it with respect to one x_j: only one term of the sum depends on it.",
                "把一个输出写成对输入的求和 y_i = Σ_j W[i, j] sin(x_j)，再对某一个 x_j 求导："
                "和式中只有一项与它有关。",
            ),
            Msg(
                "The Jacobian has the shape of W (outputs × inputs). Every entry of column j "
                "shares the same factor from the sin of x_j, and broadcasting can apply a "
                "per-column factor without a loop.",
                "雅可比矩阵的形状与 W 相同（输出 × 输入）。第 j 列的每个元素都有同一个来自 x_j 处 sin "
                "的因子；借助广播，可以不写循环就给每一列乘上各自的因子。",
            ),
        ),
        mistakes=(
            Mistake(
                "sin_not_differentiated",
                lambda w, x: w * torch.sin(x),
                Msg(
                    "Your entries use sin(x_j): the derivative of sin is cos.",
                    "你的元素用的是 sin(x_j)：sin 的导数是 cos。",
                ),
            ),
            Mistake(
                "w_alone",
                lambda w, x: w.clone(),
                Msg(
                    "Your Jacobian is W alone: the chain rule also multiplies by the derivative "
                    "of the sin.",
                    "你的雅可比矩阵只有 W：链式法则还要乘上 sin 的导数。",
                ),
            ),
            Mistake(
                "matrix_vector",
                lambda w, x: w @ torch.cos(x),
                Msg(
                    "You returned W @ cos(x), one number per output: the Jacobian is a matrix "
                    "with one entry per output and input.",
                    "你返回的是 W @ cos(x)，每个输出只有一个数：雅可比矩阵的每个“输出-输入”组合都有一个元素。",
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


register(
    Exercise(
        id="vector_calculus.sigmoid_diagonal",
        forbids=BY_HAND,
        title=Msg("The diagonal of an element-wise Jacobian", "逐元素函数雅可比矩阵的对角线"),
        make_args=lambda gen: (torch.randn(_int(gen, 1, 7), generator=gen) * 3,),
        reference=lambda x: torch.diagonal(jacobian(torch.sigmoid, x)),
        hints=(
            Msg(
                "Each y_i depends on x_i alone. What does that say about the off-diagonal entries "
                "of J, and what is left on the diagonal?",
                "每个 y_i 只依赖 x_i。这对 J 的非对角元素意味着什么？对角线上剩下的又是什么？",
            ),
            Msg(
                "The diagonal holds the derivative of the sigmoid at each x_i, and that derivative "
                "can be written with the sigmoid's own output. Return a vector shaped like x, not "
                "the n × n matrix.",
                "对角线上是 sigmoid 在每个 x_i 处的导数，这个导数可以用 sigmoid 自己的输出来表示。"
                "请返回与 x 形状相同的向量，而不是 n × n 矩阵。",
            ),
        ),
        mistakes=(
            Mistake(
                "sigmoid_itself",
                lambda x: torch.sigmoid(x),
                Msg(
                    "You returned σ(x), not its derivative.",
                    "你返回的是 σ(x) 本身，而不是它的导数。",
                ),
            ),
            Mistake(
                "full_matrix",
                lambda x: torch.diag(torch.sigmoid(x) * (1 - torch.sigmoid(x))),
                Msg(
                    "You returned the whole n × n Jacobian; the exercise asks for its diagonal, a "
                    "vector shaped like x.",
                    "你返回的是整个 n × n 雅可比矩阵；题目要的是它的对角线，一个与 x 形状相同的向量。",
                ),
            ),
            Mistake(
                "one_minus_x",
                lambda x: torch.sigmoid(x) * (1 - x),
                Msg(
                    "Your derivative mixes σ(x) with x itself: both factors are written with the "
                    "sigmoid's output.",
                    "你的导数把 σ(x) 和 x 本身混在了一起：两个因子都应该用 sigmoid 的输出来写。",
                ),
            ),
        ),
        edge_cases=lambda: [
            (torch.zeros(4),),
            (torch.tensor([-20.0, 20.0, 1.0]),),
            (torch.tensor([0.3, -0.7], dtype=torch.float64),),
        ],
    )
)


def _backward_with(w: torch.Tensor, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    y = w @ torch.sin(x)
    y.backward(gradient=v)
    return x.grad


def _w_x_and_output_vector(gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """W, x and a random vector shaped like y = W @ sin(x) (an upstream gradient or a target)."""
    w, x = _w_x(gen)
    return w, x, torch.randn(w.shape[0], generator=gen)


register(
    Exercise(
        id="vector_calculus.vjp",
        forbids=BY_HAND,
        title=Msg("x.grad after y.backward(gradient=v)", "y.backward(gradient=v) 之后的 x.grad"),
        make_args=_w_x_and_output_vector,
        reference=_backward_with,
        hints=(
            Msg(
                "backward(gradient=v) computes the vector-Jacobian product vᵀJ: one number per "
                "input x_j, a sum over the outputs i weighted by v_i. Autograd never builds J, "
                "and you need not either.",
                "backward(gradient=v) 计算的是向量-雅可比积 vᵀJ：每个输入 x_j 对应一个数，"
                "它是对输出 i 以 v_i 为权重的求和。autograd 从不构造 J，你也不必。",
            ),
            Msg(
                "Use the Jacobian from the previous exercise entry by entry: for each input, sum "
                "v_i times the entry over the outputs. The sum over i is a product of v with W; "
                "the factor that depends only on x_j comes out of the sum. The result is shaped "
                "like x.",
                "逐个元素地使用上一道练习的雅可比矩阵：对每个输入，把 v_i 乘以对应元素后沿输出求和。"
                "对 i 的求和就是 v 与 W 的乘积；只依赖 x_j 的那个因子可以提到求和号外面。"
                "结果与 x 形状相同。",
            ),
        ),
        mistakes=(
            Mistake(
                "per_output",
                lambda w, x, v: v * (w @ torch.cos(x)),
                Msg(
                    "Your result has one number per output; x.grad has one per input x_j. The sum "
                    "runs over the outputs.",
                    "你的结果每个输出一个数；而 x.grad 应该每个输入 x_j 一个数。求和是沿输出进行的。",
                ),
            ),
            Mistake(
                "cos_missing",
                lambda w, x, v: v @ w,
                Msg(
                    "Your product leaves out the derivative of sin: each input's entry is scaled by "
                    "cos(x_j).",
                    "你的乘积漏掉了 sin 的导数：每个输入对应的元素都要乘上 cos(x_j)。",
                ),
            ),
            Mistake(
                "v_ignored",
                lambda w, x, v: w.sum(dim=0) * torch.cos(x),
                Msg(
                    "Your result ignores v: it is what backward() gives with v = ones.",
                    "你的结果没有用到 v：这是 v 全为 1 时 backward() 给出的结果。",
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


def _loss_grad(w: torch.Tensor, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    y = w @ torch.sin(x)
    loss = 0.5 * ((y - target) ** 2).sum()
    loss.backward()
    return x.grad


register(
    Exercise(
        id="vector_calculus.loss_grad",
        forbids=BY_HAND,
        title=Msg("∂l/∂x from v = ∂l/∂y", "由 v = ∂l/∂y 得到 ∂l/∂x"),
        make_args=_w_x_and_output_vector,
        reference=_loss_grad,
        hints=(
            Msg(
                "Two steps: first the loss alone, the derivative of l with respect to y (that is "
                "v); then the vector-Jacobian product from the previous exercise with that v.",
                "分两步：先只看损失，求 l 对 y 的导数（这就是 v）；再用这个 v 做上一道练习里的"
                "向量-雅可比积。",
            ),
            Msg(
                "The ½ cancels the 2 of the square, so v is simply the residual of each output, "
                "with y computed from W and x. Mind its sign: the target is subtracted.",
                "½ 正好抵消平方求导带来的 2，所以 v 就是每个输出的残差，其中 y 由 W 和 x 算出。"
                "注意符号：是减去目标值。",
            ),
        ),
        mistakes=(
            Mistake(
                "target_minus_output",
                lambda w, x, t: ((t - w @ torch.sin(x)) @ w) * torch.cos(x),
                Msg(
                    "Your v is t − y: the sign is reversed. The derivative of ½(y − t)² with "
                    "respect to y has the output first.",
                    "你的 v 是 t − y：符号反了。½(y − t)² 对 y 求导，输出在前、目标在后。",
                ),
            ),
            Mistake(
                "half_forgotten",
                lambda w, x, t: (2 * (w @ torch.sin(x) - t) @ w) * torch.cos(x),
                Msg(
                    "Your gradient is twice the right one: the ½ in the loss cancels the factor 2 "
                    "of the square.",
                    "你的梯度是正确值的两倍：损失里的 ½ 正好抵消平方求导带来的系数 2。",
                ),
            ),
            Mistake(
                "chain_stopped",
                lambda w, x, t: (w @ torch.sin(x) - t) @ w,
                Msg(
                    "You stopped at ∂l/∂sin(x): the last link, the derivative of sin, is missing.",
                    "你停在了 ∂l/∂sin(x)：漏掉了最后一环 sin 的导数。",
                ),
            ),
            Mistake(
                "target_as_v",
                lambda w, x, t: (t @ w) * torch.cos(x),
                Msg(
                    "You used the target t as v: v = ∂l/∂y is the residual, output minus target.",
                    "你把目标值 t 当成了 v：v = ∂l/∂y 是残差，即输出减去目标值。",
                ),
            ),
        ),
        edge_cases=lambda: [
            (torch.eye(3), torch.zeros(3), torch.zeros(3)),
            (torch.tensor([[1.0, 2.0]]), torch.tensor([0.5, 1.5]), torch.tensor([3.0])),
        ],
    )
)
