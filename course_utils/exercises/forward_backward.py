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

from course_utils.exercises import BY_HAND, Exercise, Mistake, register
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


def _by_hand(x, y, w1, b1, w2, b2, *, mean=True, two=True, sign=1.0, tanh_grad=True):
    """The hand-derived pieces, with the switches learners get wrong: (h, delta, grad_z)."""
    h = torch.tanh(x @ w1 + b1)
    delta = sign * (2 if two else 1) * (h @ w2 + b2 - y) / (len(y) if mean else 1)
    grad_z = delta[:, None] * w2 * ((1 - h**2) if tanh_grad else 1)
    return h, delta, grad_z


register(
    Exercise(
        id="forward_backward.forward",
        title=Msg("The forward pass and its loss", "前向传播及其损失"),
        make_args=_network,
        reference=_torch_loss,
        hints=(
            Msg(
                "Follow the network from the input to the loss, one line per layer, and check "
                "each shape: the prediction has one number per sample, like y, and the loss is "
                "a single number (a tensor of shape ()).",
                "从输入一路算到损失，每层一行，并检查每一步的形状：预测值每个样本一个数，与 y 相同；"
                "损失是一个数（形状为 () 的张量）。",
            ),
            Msg(
                "The hidden layer applies tanh after the affine map; the output layer has no "
                "activation. The loss squares each sample's error and averages over the samples. "
                "If your prediction has shape (N, 1), subtracting y of shape (N,) broadcasts to "
                "an N × N matrix.",
                "隐藏层在仿射变换之后接 tanh；输出层没有激活函数。损失先把每个样本的误差平方，"
                "再对样本取平均。如果你的预测值形状是 (N, 1)，减去形状为 (N,) 的 y 会广播成 N × N 矩阵。",
            ),
        ),
        mistakes=(
            Mistake(
                "sum_not_mean",
                lambda x, y, w1, b1, w2, b2: ((torch.tanh(x @ w1 + b1) @ w2 + b2 - y) ** 2).sum(),
                Msg(
                    "Your loss is the sum of the squared errors; the mean squared error divides "
                    "by the number of samples.",
                    "你的损失是误差平方之和；均方误差还要除以样本数。",
                ),
            ),
            Mistake(
                "no_tanh",
                lambda x, y, w1, b1, w2, b2: (((x @ w1 + b1) @ w2 + b2 - y) ** 2).mean(),
                Msg(
                    "Your hidden layer has no activation: the network applies tanh there.",
                    "你的隐藏层没有激活函数：网络在这里用的是 tanh。",
                ),
            ),
            Mistake(
                "not_squared",
                lambda x, y, w1, b1, w2, b2: (torch.tanh(x @ w1 + b1) @ w2 + b2 - y).mean(),
                Msg(
                    "Your loss averages the errors without squaring them: positive and negative "
                    "errors cancel.",
                    "你的损失直接对误差取平均，没有平方：正负误差会相互抵消。",
                ),
            ),
            Mistake(
                "broadcast_column",
                lambda x, y, w1, b1, w2, b2: (
                    (torch.tanh(x @ w1 + b1) @ w2[:, None] + b2 - y) ** 2
                ).mean(),
                Msg(
                    "Your prediction is a column (N, 1): subtracting y (N,) broadcast it to an "
                    "N × N matrix of every prediction minus every target.",
                    "你的预测值是一列 (N, 1)：减去 y (N,) 时被广播成了 N × N 矩阵，"
                    "即每个预测值减去每个目标值。",
                ),
            ),
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
        hints=(
            Msg(
                "Start at the loss and go one step back: how does the loss change when one "
                "sample's prediction changes? Mind both the square and the mean. Then ask how a "
                "prediction depends on w2 and on b2.",
                "从损失出发往回走一步：某个样本的预测值变化时，损失如何变化？平方和平均都要考虑。"
                "再看预测值如何依赖 w2 和 b2。",
            ),
            Msg(
                "∂loss/∂y_hat is a vector, one entry per sample, with a factor from the square "
                "and a 1/N from the mean. w2 multiplies h, so its gradient combines that vector "
                "with h over the samples (shape of w2); b2 is added to every prediction, so its "
                "gradient collects that vector over the samples (a scalar).",
                "∂loss/∂y_hat 是一个向量，每个样本一项，包含来自平方的系数和来自平均的 1/N。"
                "w2 与 h 相乘，所以它的梯度要把这个向量和 h 沿样本组合起来（形状与 w2 相同）；"
                "b2 加到每个预测值上，所以它的梯度要把这个向量沿样本汇总起来（一个标量）。",
            ),
        ),
        mistakes=(
            Mistake(
                "no_mean",
                lambda *a: (lambda h, d, _: (h.T @ d, d.sum()))(*_by_hand(*a, mean=False)),
                Msg(
                    "Your gradients are N times too large: the loss is a mean, and the 1/N stays "
                    "in its derivative.",
                    "你的梯度大了 N 倍：损失是平均值，求导后 1/N 仍然保留。",
                ),
            ),
            Mistake(
                "no_two",
                lambda *a: (lambda h, d, _: (h.T @ d, d.sum()))(*_by_hand(*a, two=False)),
                Msg(
                    "Your gradients are half the right ones: the square contributes a factor 2.",
                    "你的梯度只有正确值的一半：平方求导会带来系数 2。",
                ),
            ),
            Mistake(
                "sign",
                lambda *a: (lambda h, d, _: (h.T @ d, d.sum()))(*_by_hand(*a, sign=-1.0)),
                Msg(
                    "Your gradients have the wrong sign: you used y − y_hat where the loss's "
                    "derivative has y_hat − y.",
                    "你的梯度符号反了：损失的导数里是 y_hat − y，你用成了 y − y_hat。",
                ),
            ),
            Mistake(
                "b2_mean",
                lambda *a: (lambda h, d, _: (h.T @ d, d.mean()))(*_by_hand(*a)),
                Msg(
                    "grad_w2 is right but grad_b2 averages over the samples; b2 is added to every "
                    "prediction, so each sample's contribution counts in full.",
                    "grad_w2 对了，但 grad_b2 对样本取了平均；b2 加到了每个预测值上，"
                    "每个样本的贡献都要完整地加进来。",
                ),
            ),
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
        hints=(
            Msg(
                "Keep going backwards from ∂loss/∂y_hat (the previous exercise): first through "
                "the output layer to the hidden activations h, then through tanh, then to b1. "
                "Each step multiplies by one local derivative.",
                "从 ∂loss/∂y_hat（上一道练习）继续往回推：先穿过输出层到隐藏激活 h，再穿过 tanh，"
                "最后到 b1。每一步都乘上一个局部导数。",
            ),
            Msg(
                "Through the output layer each sample's signal is spread over the hidden units by "
                "w2 (an N × H matrix). The derivative of tanh can be written with tanh's own "
                "output h. b1 is added to every sample, so its gradient collects the samples; "
                "the result has the shape of b1.",
                "穿过输出层时，每个样本的信号由 w2 分配到各个隐藏单元（得到 N × H 矩阵）。"
                "tanh 的导数可以用它自己的输出 h 来表示。b1 加到了每个样本上，所以它的梯度要把各个样本"
                "汇总起来；结果的形状与 b1 相同。",
            ),
        ),
        mistakes=(
            Mistake(
                "no_tanh_derivative",
                lambda *a: _by_hand(*a, tanh_grad=False)[2].sum(dim=0),
                Msg(
                    "Your gradient skips the tanh: between h and b1 the chain rule multiplies by "
                    "tanh's derivative.",
                    "你的梯度跳过了 tanh：从 h 到 b1，链式法则还要乘上 tanh 的导数。",
                ),
            ),
            Mistake(
                "not_summed",
                lambda *a: _by_hand(*a)[2],
                Msg(
                    "You returned one row per sample: b1 is shared by all samples, so their "
                    "contributions add up to one vector shaped like b1.",
                    "你为每个样本返回了一行：b1 被所有样本共用，所以要把它们的贡献加起来，"
                    "得到一个与 b1 形状相同的向量。",
                ),
            ),
            Mistake(
                "averaged",
                lambda *a: _by_hand(*a)[2].mean(dim=0),
                Msg(
                    "You averaged the samples' contributions; the 1/N of the mean is already in "
                    "∂loss/∂y_hat, so here they add up.",
                    "你对各样本的贡献取了平均；均值带来的 1/N 已经包含在 ∂loss/∂y_hat 里了，"
                    "这里应该直接相加。",
                ),
            ),
            Mistake(
                "sign",
                lambda *a: _by_hand(*a, sign=-1.0)[2].sum(dim=0),
                Msg(
                    "Your gradient has the wrong sign: the error at the output is y_hat − y.",
                    "你的梯度符号反了：输出端的误差是 y_hat − y。",
                ),
            ),
        ),
        edge_cases=_edge_networks,
    )
)


register(
    Exercise(
        id="forward_backward.hidden_weight_grad",
        title=Msg("∂loss/∂W1 by hand", "手算 ∂loss/∂W1"),
        make_args=_network,
        reference=lambda *args: _autograd_grads(*args)[0],
        forbids=BY_HAND,
        hints=(
            Msg(
                "z = x @ W1 + b1. On the way to b1 you already found ∂loss/∂z, one row per "
                "sample. Now ask how z depends on a single weight W1[d, k]: which samples, which "
                "input feature and which hidden unit does it touch?",
                "z = x @ W1 + b1。在求 b1 的梯度时，你已经得到了 ∂loss/∂z，每个样本一行。"
                "现在想一想 z 如何依赖某一个权重 W1[d, k]：它涉及哪些样本、哪个输入特征、哪个隐藏单元？",
            ),
            Msg(
                "W1[d, k] multiplies input feature d of every sample and feeds hidden unit k, so "
                "its gradient adds up, over the samples, that input feature times that unit's "
                "∂loss/∂z. A sum over the samples of such products is one matrix product; the "
                "result has the shape of W1 (D × H).",
                "W1[d, k] 与每个样本的第 d 个输入特征相乘，并送入第 k 个隐藏单元，所以它的梯度是："
                "对所有样本，把该输入特征与该隐藏单元的 ∂loss/∂z 相乘再求和。这种沿样本的乘积求和"
                "正好是一次矩阵乘法；结果的形状与 W1 相同（D × H）。",
            ),
        ),
        mistakes=(
            Mistake(
                "transposed",
                lambda x, *a: (_by_hand(x, *a)[2]).T @ x,
                Msg(
                    "Your result is the transpose (H × D): ∂loss/∂W1 has the shape of W1, "
                    "inputs × hidden units.",
                    "你的结果是转置（H × D）：∂loss/∂W1 的形状与 W1 相同，即输入数 × 隐藏单元数。",
                ),
            ),
            Mistake(
                "no_tanh_derivative",
                lambda x, *a: x.T @ _by_hand(x, *a, tanh_grad=False)[2],
                Msg(
                    "Your gradient skips the tanh: between h and z the chain rule multiplies by "
                    "tanh's derivative.",
                    "你的梯度跳过了 tanh：从 h 到 z，链式法则还要乘上 tanh 的导数。",
                ),
            ),
            Mistake(
                "summed_too_early",
                lambda x, *a: x.sum(dim=0)[:, None] * _by_hand(x, *a)[2].sum(dim=0)[None, :],
                Msg(
                    "You summed over the samples before multiplying: each sample's input "
                    "multiplies its own ∂loss/∂z, and only the products are added up.",
                    "你在相乘之前就对样本求了和：应当让每个样本的输入与它自己的 ∂loss/∂z 相乘，"
                    "再把这些乘积加起来。",
                ),
            ),
            Mistake(
                "mean_twice",
                lambda x, *a: x.T @ _by_hand(x, *a)[2] / len(x),
                Msg(
                    "Your gradient is N times too small: the 1/N of the mean is already in "
                    "∂loss/∂y_hat, so the samples' products add up, they are not averaged again.",
                    "你的梯度小了 N 倍：均值带来的 1/N 已经包含在 ∂loss/∂y_hat 里了，"
                    "各样本的乘积应直接相加，不要再取一次平均。",
                ),
            ),
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


def _step_by_hand(x, y, w1, b1, w2, b2, lr, *, sign=1.0, hidden=True, use_lr=True, grads=False):
    """A descent step from hand-derived gradients, with the switches learners get wrong."""
    h, delta, grad_z = _by_hand(x, y, w1, b1, w2, b2)
    g = (x.T @ grad_z, grad_z.sum(dim=0), h.T @ delta, delta.sum())
    if grads:
        return g
    step = lr if use_lr else 1.0
    moved = [p - sign * step * gp for p, gp in zip((w1, b1, w2, b2), g, strict=True)]
    return tuple(moved) if hidden else (w1, b1, *moved[2:])


register(
    Exercise(
        id="forward_backward.descent_step",
        title=Msg("One gradient-descent step", "一步梯度下降"),
        make_args=_step_args,
        reference=_sgd_step,
        kind="tensors",
        output_names=PARAM_NAMES,
        hints=(
            Msg(
                "One step: compute the loss from parameters that autograd tracks, let backward() "
                "fill their gradients, then move every parameter against its own gradient, "
                "scaled by lr.",
                "一步梯度下降：用 autograd 追踪的参数算出损失，让 backward() 填好它们的梯度，"
                "再把每个参数逆着各自的梯度移动，步长由 lr 缩放。",
            ),
            Msg(
                "The arguments do not track gradients: make copies that do (the lesson shows how "
                "and why with detach, clone and requires_grad_). All four parameters move, and the "
                "update itself must not be recorded by autograd. Return them in the order "
                "(W1, b1, w2, b2).",
                "传进来的参数不追踪梯度：要做一份追踪梯度的副本（课上讲了如何用 detach、clone、"
                "requires_grad_ 来做，以及为什么）。四个参数都要更新，而更新本身不应被 autograd 记录。"
                "按 (W1, b1, w2, b2) 的顺序返回。",
            ),
        ),
        mistakes=(
            Mistake(
                "ascent",
                lambda *a: _step_by_hand(*a, sign=-1.0),
                Msg(
                    "Your parameters moved with their gradients, uphill: the loss grows.",
                    "你的参数顺着梯度移动，是在“上坡”：损失会变大。",
                ),
            ),
            Mistake(
                "output_layer_only",
                lambda *a: _step_by_hand(*a, hidden=False),
                Msg(
                    "Only the output layer moved: W1 and b1 have gradients too, and every "
                    "parameter takes the step.",
                    "只有输出层更新了：W1 和 b1 也有梯度，每个参数都要走这一步。",
                ),
            ),
            Mistake(
                "no_lr",
                lambda *a: _step_by_hand(*a, use_lr=False),
                Msg(
                    "Your step ignores the learning rate: the whole gradient was subtracted.",
                    "你的这一步没有用到学习率：整个梯度都被减掉了。",
                ),
            ),
            Mistake(
                "gradients_returned",
                lambda *a: _step_by_hand(*a, grads=True),
                Msg(
                    "You returned the gradients, not the updated parameters.",
                    "你返回的是梯度，而不是更新之后的参数。",
                ),
            ),
        ),
        edge_cases=lambda: [(*net, 0.1) for net in _edge_networks()],
    )
)
