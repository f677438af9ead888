"""Lesson 2 · One training step: the loss, backward(), and what SGD does to the parameters.

References run the real torch.optim.SGD (or autograd); the learner predicts the result by hand.
Models for the counting exercise are small random nn.Sequential stacks built from the
generator, never resnet18, so that a check takes milliseconds.
"""

from __future__ import annotations

import torch
from torch import nn

from course_utils.exercises import BY_HAND, OPTIM, Exercise, register
from course_utils.i18n import Msg


def _int(gen: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high + 1, (1,), generator=gen))


def _shape(gen: torch.Generator) -> tuple[int, ...]:
    return tuple(_int(gen, 1, 4) for _ in range(_int(gen, 1, 3)))


def _lr(gen: torch.Generator) -> float:
    return round(float(torch.empty(()).uniform_(0.001, 0.5, generator=gen)), 4)


# --- Exercise 1: the first SGD step -------------------------------------------------------


def _sgd_args(gen: torch.Generator) -> tuple:
    shape = _shape(gen)
    return torch.randn(shape, generator=gen), torch.randn(shape, generator=gen), _lr(gen)


def _sgd_reference(p: torch.Tensor, g: torch.Tensor, lr: float) -> torch.Tensor:
    param = p.detach().clone().requires_grad_(True)
    param.grad = g.detach().clone()
    torch.optim.SGD([param], lr=lr).step()
    return param.detach()


register(
    Exercise(
        id="training_step.sgd_update",
        forbids=BY_HAND | {OPTIM},
        title=Msg("The parameter after one SGD step", "一步 SGD 之后的参数"),
        make_args=_sgd_args,
        reference=_sgd_reference,
        hint=Msg(
            "Gradient descent moves a parameter against its gradient: the new value is "
            "p − lr · g, element by element. Going with the gradient (p + lr · g) would make "
            "the loss grow.",
            "梯度下降让参数沿梯度的反方向移动：新值是 p − lr · g，逐元素计算。"
            "沿着梯度方向走（p + lr · g）会让损失变大。",
        ),
        edge_cases=lambda: [
            (torch.tensor([1.0, -2.0]), torch.zeros(2), 0.1),
            (
                torch.tensor([[0.5, 1.5]], dtype=torch.float64),
                torch.tensor([[2.0, -4.0]], dtype=torch.float64),
                0.01,
            ),
        ],
    )
)


# --- Exercise 2: two steps with momentum ----------------------------------------------------


def _momentum_args(gen: torch.Generator) -> tuple:
    shape = _shape(gen)
    p, g1, g2 = (torch.randn(shape, generator=gen) for _ in range(3))
    mu = round(float(torch.empty(()).uniform_(0.5, 0.99, generator=gen)), 3)
    return p, g1, g2, _lr(gen), mu


def _momentum_reference(p, g1, g2, lr: float, mu: float) -> tuple[torch.Tensor, torch.Tensor]:
    param = p.detach().clone().requires_grad_(True)
    optimizer = torch.optim.SGD([param], lr=lr, momentum=mu)
    for g in (g1, g2):
        param.grad = g.detach().clone()
        optimizer.step()
    return param.detach(), optimizer.state[param]["momentum_buffer"].detach().clone()


register(
    Exercise(
        id="training_step.momentum_two_steps",
        title=Msg("Two SGD steps with momentum", "带动量的两步 SGD"),
        make_args=_momentum_args,
        reference=_momentum_reference,
        kind="tensors",
        output_names=("p", "v"),
        hint=Msg(
            "PyTorch starts the velocity at the first gradient: v = g1 and p ← p − lr · v. "
            "At the second step the old velocity is kept, scaled by the momentum: "
            "v = μ · v + g2, then p ← p − lr · v. Return (p, v) after the second step.",
            "PyTorch 把速度初始化为第一次的梯度：v = g1，p ← p − lr · v。第二步时保留旧的速度，"
            "并乘以动量：v = μ · v + g2，然后 p ← p − lr · v。返回第二步之后的 (p, v)。",
        ),
        edge_cases=lambda: [
            (torch.tensor([1.0, 2.0]), torch.tensor([0.5, -1.0]), torch.zeros(2), 0.1, 0.9),
            (torch.tensor([3.0]), torch.tensor([1.0]), torch.tensor([1.0]), 0.01, 0.5),
        ],
    )
)


# --- Exercise 3: counting parameters --------------------------------------------------------


def _mlp(gen: torch.Generator) -> nn.Sequential:
    sizes = [_int(gen, 1, 8) for _ in range(_int(gen, 2, 4))]
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        layers.append(nn.Linear(n_in, n_out, bias=bool(_int(gen, 0, 1))))
        if i < len(sizes) - 2:
            if _int(gen, 0, 1):
                layers.append(nn.BatchNorm1d(n_out))
            layers.append(nn.ReLU() if _int(gen, 0, 1) else nn.Tanh())
    return nn.Sequential(*layers)


def _cnn(gen: torch.Generator) -> nn.Sequential:
    channels = [_int(gen, 1, 4) for _ in range(_int(gen, 2, 3))]
    layers: list[nn.Module] = []
    for c_in, c_out in zip(channels, channels[1:], strict=False):
        k = _int(gen, 1, 3)
        layers.append(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=bool(_int(gen, 0, 1))))
        if _int(gen, 0, 1):
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.ReLU())
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels[-1], _int(gen, 1, 5))]
    return nn.Sequential(*layers)


def _model_args(gen: torch.Generator) -> tuple:
    build = _cnn if _int(gen, 0, 2) == 0 else _mlp
    seed = int(torch.randint(0, 2**31, (1,), generator=gen))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return (build(gen),)


def _count_reference(model: nn.Module) -> int:
    params = list(model.parameters())
    return int(torch.nn.utils.parameters_to_vector(params).numel()) if params else 0


def _shared_layer_model() -> nn.Sequential:
    layer = nn.Linear(3, 3)
    return nn.Sequential(layer, nn.ReLU(), layer)


register(
    Exercise(
        id="training_step.count_parameters",
        title=Msg("Counting a model's parameters", "统计模型的参数个数"),
        make_args=_model_args,
        reference=_count_reference,
        kind="value",
        hint=Msg(
            "model.parameters() yields every weight and bias tensor once; add up their "
            "p.numel() (the number of elements) and return a Python int. Count numbers, not "
            "tensors, and do not use state_dict(): it also holds buffers such as BatchNorm's "
            "running_mean, which are not parameters.",
            "model.parameters() 会把每个权重和偏置张量各给出一次；把它们的 p.numel()（元素个数）"
            "加起来，返回 Python 的 int。要数的是数值的个数，而不是张量的个数。不要用 "
            "state_dict()：它还包含 BatchNorm 的 running_mean 等缓冲区，它们不是参数。",
        ),
        edge_cases=lambda: [
            (nn.Sequential(nn.ReLU()),),
            (nn.Sequential(nn.Linear(4, 2), nn.BatchNorm1d(2)),),
            (_shared_layer_model(),),
        ],
    )
)


# --- Exercise 4: the loss with the call parentheses -----------------------------------------


def _loss_args(gen: torch.Generator) -> tuple:
    batch, classes = _int(gen, 1, 3), _int(gen, 2, 6)
    return torch.randn(batch, classes, generator=gen), torch.rand(batch, classes, generator=gen)


def _loss_reference(prediction: torch.Tensor, labels: torch.Tensor):
    prediction = prediction.detach().clone().requires_grad_(True)
    loss = torch.sum(prediction - labels)
    loss.backward()
    return loss.detach(), prediction.grad


register(
    Exercise(
        id="training_step.fixed_loss",
        title=Msg("The loss and its gradient", "损失及其梯度"),
        make_args=_loss_args,
        reference=_loss_reference,
        kind="tensors",
        output_names=("loss", "prediction.grad"),
        hint=Msg(
            "`.sum` without parentheses is the method itself, not its result, and a method "
            "has no .backward(): write (prediction - labels).sum(). Compute it from a copy "
            "that autograd tracks (prediction.detach().clone().requires_grad_(True)), call "
            "loss.backward(), and return (loss, copy.grad).",
            "不带括号的 `.sum` 是方法本身，而不是它的返回值；方法没有 .backward()："
            "要写成 (prediction - labels).sum()。请用 autograd 会追踪的副本"
            "（prediction.detach().clone().requires_grad_(True)）来计算，调用 loss.backward()，"
            "然后返回 (loss, 副本.grad)。",
        ),
        edge_cases=lambda: [
            (torch.zeros(1, 3), torch.zeros(1, 3)),
            (torch.ones(2, 2, dtype=torch.float64), torch.ones(2, 2, dtype=torch.float64)),
        ],
    )
)
