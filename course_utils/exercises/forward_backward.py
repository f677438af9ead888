"""Lesson 1 · Forward and backward propagation in a tiny network, by hand and with autograd.

The network used throughout (x: N×D inputs, y: N targets)::

    h = tanh(x @ W1 + b1)          hidden layer, N×H
    y_hat = h @ w2 + b2            output, N
    loss = mean((y_hat - y) ** 2)  a scalar

References use torch.nn.functional and autograd (or torch.optim), never the formulas the
learner is asked to derive.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from course_utils.exercises import BY_HAND, Exercise, register
from course_utils.i18n import Msg

PARAM_NAMES = ("W1", "b1", "w2", "b2")


def _int(gen: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high + 1, (1,), generator=gen))


def _network(gen: torch.Generator) -> tuple:
    """Random (x, y, W1, b1, w2, b2) for a network with random sizes."""
    n, d, h = _int(gen, 1, 5), _int(gen, 1, 3), _int(gen, 2, 4)
    x = torch.randn(n, d, generator=gen)
    y = torch.randn(n, generator=gen)
    w1 = torch.randn(d, h, generator=gen)
    b1 = torch.randn(h, generator=gen) * 0.5
    w2 = torch.randn(h, generator=gen)
    b2 = torch.randn((), generator=gen) * 0.5
    return x, y, w1, b1, w2, b2


def _torch_loss(x, y, w1, b1, w2, b2) -> torch.Tensor:
    hidden = torch.tanh(F.linear(x, w1.T, b1))
    y_hat = F.linear(hidden, w2.unsqueeze(0), b2.reshape(1)).squeeze(-1)
    return F.mse_loss(y_hat, y)


def _autograd_grads(x, y, w1, b1, w2, b2) -> tuple[torch.Tensor, ...]:
    params = [p.detach().clone().requires_grad_(True) for p in (w1, b1, w2, b2)]
    _torch_loss(x, y, *params).backward()
    return tuple(p.grad for p in params)


def _edge_network(dtype: torch.dtype = torch.float32) -> tuple:
    x = torch.tensor([[1.0, -2.0]], dtype=dtype)
    y = torch.tensor([0.5], dtype=dtype)
    w1 = torch.tensor([[0.5, -1.0, 0.0], [0.25, 0.5, 1.0]], dtype=dtype)
    b1 = torch.tensor([0.0, 0.1, -0.2], dtype=dtype)
    w2 = torch.tensor([1.0, -1.0, 2.0], dtype=dtype)
    b2 = torch.tensor(0.3, dtype=dtype)
    return x, y, w1, b1, w2, b2


def _perfect_network() -> tuple:
    """A network whose prediction is exactly the target: loss and every gradient are 0."""
    x = torch.tensor([[1.0], [2.0], [-1.0]])
    w1, b1 = torch.zeros(1, 2), torch.zeros(2)
    w2, b2 = torch.tensor([3.0, -1.0]), torch.tensor(0.7)
    return x, torch.full((3,), 0.7), w1, b1, w2, b2


def _edge_networks() -> list[tuple]:
    return [_edge_network(), _edge_network(torch.float64), _perfect_network()]


register(
    Exercise(
        id="forward_backward.forward",
        title=Msg("The forward pass and its loss", "前向传播及其损失"),
        make_args=_network,
        reference=_torch_loss,
        hint=Msg(
            "Follow the network from the input to the loss: h = torch.tanh(x @ W1 + b1), "
            "then y_hat = h @ w2 + b2 (one number per sample), then the mean of the squared "
            "errors (y_hat - y) ** 2. Return a scalar tensor (shape ()), not a Python float.",
            "从输入一路算到损失：h = torch.tanh(x @ W1 + b1)，然后 y_hat = h @ w2 + b2"
            "（每个样本一个数），最后对误差平方 (y_hat - y) ** 2 取平均。"
            "返回标量张量（形状为 ()），而不是 Python 的 float。",
        ),
        edge_cases=_edge_networks,
    )
)

register(
    Exercise(
        id="forward_backward.output_grads",
        forbids=BY_HAND,
        title=Msg("∂loss/∂w2 and ∂loss/∂b2 by hand", "手算 ∂loss/∂w2 和 ∂loss/∂b2"),
        make_args=_network,
        reference=lambda *args: _autograd_grads(*args)[2:],
        kind="tensors",
        output_names=("grad_w2", "grad_b2"),
        hint=Msg(
            "Start at the loss: ∂loss/∂y_hat = 2 (y_hat − y) / N, one number per sample (the "
            "mean divides by N). y_hat = h @ w2 + b2, so ∂loss/∂w2 = hᵀ @ (that vector), "
            "shaped like w2, and ∂loss/∂b2 is its sum, a scalar shaped like b2.",
            "从损失出发：∂loss/∂y_hat = 2 (y_hat − y) / N，每个样本一个数（取平均时除以了 N）。"
            "由于 y_hat = h @ w2 + b2，∂loss/∂w2 = hᵀ @（这个向量），形状与 w2 相同；"
            "∂loss/∂b2 是这个向量的和，是与 b2 形状相同的标量。",
        ),
        edge_cases=_edge_networks,
    )
)

register(
    Exercise(
        id="forward_backward.hidden_bias_grad",
        forbids=BY_HAND,
        title=Msg("∂loss/∂b1 by hand", "手算 ∂loss/∂b1"),
        make_args=_network,
        reference=lambda *args: _autograd_grads(*args)[1],
        hint=Msg(
            "Keep going backwards from ∂loss/∂y_hat = 2 (y_hat − y) / N. Through the output "
            "layer: ∂loss/∂h = (∂loss/∂y_hat)[:, None] * w2 (an N×H matrix). Through tanh: "
            "multiply element-wise by 1 − h². b1 is added to every sample, so sum over the "
            "samples (dim 0) to get a vector shaped like b1.",
            "从 ∂loss/∂y_hat = 2 (y_hat − y) / N 继续往回推。穿过输出层："
            "∂loss/∂h = (∂loss/∂y_hat)[:, None] * w2（N×H 矩阵）。穿过 tanh：逐元素乘以 1 − h²。"
            "b1 加到了每个样本上，所以要沿样本维（dim 0）求和，得到与 b1 形状相同的向量。",
        ),
        edge_cases=_edge_networks,
    )
)


def _step_args(gen: torch.Generator) -> tuple:
    lr = round(float(torch.empty(()).uniform_(0.01, 0.5, generator=gen)), 3)
    return (*_network(gen), lr)


def _sgd_step(x, y, w1, b1, w2, b2, lr):
    params = [p.detach().clone().requires_grad_(True) for p in (w1, b1, w2, b2)]
    optimizer = torch.optim.SGD(params, lr=lr)
    _torch_loss(x, y, *params).backward()
    optimizer.step()
    return tuple(p.detach() for p in params)


register(
    Exercise(
        id="forward_backward.descent_step",
        title=Msg("One gradient-descent step", "一步梯度下降"),
        make_args=_step_args,
        reference=_sgd_step,
        kind="tensors",
        output_names=PARAM_NAMES,
        hint=Msg(
            "Make copies that autograd tracks (p.detach().clone().requires_grad_(True) for "
            "each parameter), compute the loss from them, call loss.backward(), then return "
            "p - lr * p.grad for each one, in the order (W1, b1, w2, b2). Every parameter "
            "moves, not only the output layer. (An in-place p -= lr * p.grad needs "
            "`with torch.no_grad():` around it.)",
            "先为每个参数做一份 autograd 会追踪的副本（p.detach().clone().requires_grad_(True)），"
            "用它们算出损失，调用 loss.backward()，再按 (W1, b1, w2, b2) 的顺序返回每个参数的 "
            "p - lr * p.grad。所有参数都要更新，而不只是输出层。"
            "（若用原地更新 p -= lr * p.grad，要把它放在 `with torch.no_grad():` 里。）",
        ),
        edge_cases=lambda: [(*net, 0.1) for net in _edge_networks()],
    )
)
