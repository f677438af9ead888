"""Lesson 5 · Vector calculus with autograd: Jacobians and vector-Jacobian products."""

from __future__ import annotations

import torch
from torch.autograd.functional import jacobian

from course_utils.exercises import BY_HAND, Exercise, register
from course_utils.i18n import Msg


def _int(gen: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high + 1, (1,), generator=gen))


def small_f(x: torch.Tensor) -> torch.Tensor:
    """y = [x0·x1, x0 + sin x1, x1²] for x of shape (2,)."""
    return torch.stack([x[0] * x[1], x[0] + torch.sin(x[1]), x[1] ** 2])


register(
    Exercise(
        id="vector_calculus.small_jacobian",
        forbids=BY_HAND,
        title=Msg("A 3×2 Jacobian by hand", "手算一个 3×2 的雅可比矩阵"),
        make_args=lambda gen: (torch.randn(2, generator=gen) * 2,),
        reference=lambda x: jacobian(small_f, x),
        hint=Msg(
            "Row i is the gradient of y_i, column j is the derivative with respect to x_j: "
            "J = [[x1, x0], [1, cos x1], [0, 2·x1]]. The result has 3 rows (outputs) and 2 "
            "columns (inputs); fill a torch.zeros(3, 2, dtype=x.dtype) entry by entry if that is easier.",
            "第 i 行是 y_i 的梯度，第 j 列是对 x_j 的偏导数："
            "J = [[x1, x0], [1, cos x1], [0, 2·x1]]。结果有 3 行（输出）2 列（输入）；"
            "也可以先建 torch.zeros(3, 2, dtype=x.dtype)，再逐个元素填入。",
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
        hint=Msg(
            "y_i = Σ_j W[i, j] sin(x_j), so ∂y_i/∂x_j = W[i, j] · cos(x_j). The Jacobian has "
            "the shape of W (m outputs × n inputs): it is W with column j scaled by cos(x_j), "
            "which broadcasting writes as W * torch.cos(x). (Chain rule: J = W · diag(cos x).)",
            "y_i = Σ_j W[i, j] sin(x_j)，所以 ∂y_i/∂x_j = W[i, j] · cos(x_j)。雅可比矩阵的形状与 W "
            "相同（m 个输出 × n 个输入）：把 W 的第 j 列乘以 cos(x_j) 即可，借助广播写作 "
            "W * torch.cos(x)。（由链式法则，J = W · diag(cos x)。）",
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
        hint=Msg(
            "y_i = σ(x_i) depends on x_i alone, so every off-diagonal entry of J is 0 and the "
            "diagonal holds σ'(x_i) = σ(x_i) · (1 − σ(x_i)). Return a vector shaped like x, not the "
            "n × n matrix.",
            "y_i = σ(x_i) 只依赖 x_i，所以 J 的非对角元素全为 0，对角线上是 "
            "σ'(x_i) = σ(x_i) · (1 − σ(x_i))。请返回与 x 形状相同的向量，而不是 n × n 的矩阵。",
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
        hint=Msg(
            "backward(gradient=v) computes the vector-Jacobian product vᵀJ: one number per "
            "input x_j, namely Σ_i v_i · W[i, j] · cos(x_j). In tensor form: (v @ W) * torch.cos(x), "
            "a vector shaped like x. Autograd never builds J; you need not either.",
            "backward(gradient=v) 计算的是向量-雅可比积 vᵀJ：每个输入 x_j 对应一个数，即 "
            "Σ_i v_i · W[i, j] · cos(x_j)。写成张量运算就是 (v @ W) * torch.cos(x)，"
            "它与 x 形状相同。autograd 从不构造 J，你也不必。",
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
        hint=Msg(
            "Two steps. First the loss alone: l = ½ Σ (y_i − t_i)² gives v = ∂l/∂y = y − t, "
            "with y = W @ sin(x). Then the chain rule: ∂l/∂x = vᵀJ = (v @ W) * cos(x), the same "
            "vector-Jacobian product as in the previous exercise, now with v = y − t.",
            "分两步。先只看损失：l = ½ Σ (y_i − t_i)² 给出 v = ∂l/∂y = y − t，其中 y = W @ sin(x)。"
            "再用链式法则：∂l/∂x = vᵀJ = (v @ W) * cos(x)，与上一道练习是同一个向量-雅可比积，"
            "只是现在 v = y − t。",
        ),
        edge_cases=lambda: [
            (torch.eye(3), torch.zeros(3), torch.zeros(3)),
            (torch.tensor([[1.0, 2.0]]), torch.tensor([0.5, 1.5]), torch.tensor([3.0])),
        ],
    )
)
