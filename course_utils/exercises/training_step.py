"""Lesson 2 · One training step: the loss, backward(), and what SGD does to the parameters.

References run the real torch.optim.SGD (or autograd); the learner predicts the result by hand.
Models for the counting exercise are small random nn.Sequential stacks built from the
generator, never resnet18, so that a check takes milliseconds.
"""

from __future__ import annotations

import torch
from torch import nn

from course_utils.exercises import BY_HAND, OPTIM, Exercise, Mistake, register
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
        derives=False,
        forbids=BY_HAND | {OPTIM},
        title=Msg("The parameter after one SGD step", "一步 SGD 之后的参数"),
        make_args=_sgd_args,
        reference=_sgd_reference,
        hints=(
            Msg(
                "Gradient descent lowers the loss: which way does the gradient point, and which "
                "way must the parameter go? The learning rate sets how far.",
                "梯度下降要让损失变小：梯度指向哪个方向，参数又该往哪个方向走？学习率决定走多远。",
            ),
            Msg(
                "Return the parameter's new value, not the change: start from p and move it "
                "against g by a step that lr scales, element by element.",
                "返回的是参数的新值，而不是变化量：从 p 出发，逆着 g 移动一步，步长由 lr 缩放，逐元素计算。",
            ),
        ),
        mistakes=(
            Mistake(
                "ascent",
                lambda p, g, lr: p + lr * g,
                Msg(
                    "Your step goes with the gradient, uphill: that makes the loss grow.",
                    "你的这一步顺着梯度走，是在“上坡”：这会让损失变大。",
                ),
            ),
            Mistake(
                "no_lr",
                lambda p, g, lr: p - g,
                Msg(
                    "Your step ignores the learning rate: the whole gradient was subtracted.",
                    "你的这一步没有用到学习率：整个梯度都被减掉了。",
                ),
            ),
            Mistake(
                "only_the_change",
                lambda p, g, lr: -lr * g,
                Msg(
                    "You returned the change of the parameter, not its new value.",
                    "你返回的是参数的变化量，而不是参数的新值。",
                ),
            ),
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


# --- Exercise 2: two steps with momentum, weight decay and a learning-rate change ----------


def _momentum_args(gen: torch.Generator) -> tuple:
    shape = _shape(gen)
    p, g1, g2 = (torch.randn(shape, generator=gen) for _ in range(3))
    mu = round(float(torch.empty(()).uniform_(0.5, 0.95, generator=gen)), 3)
    lr1 = round(float(torch.empty(()).uniform_(0.05, 0.5, generator=gen)), 3)
    lr2 = round(lr1 * float(torch.empty(()).uniform_(0.1, 0.5, generator=gen)), 4)
    wd = round(float(torch.empty(()).uniform_(0.05, 0.3, generator=gen)), 3)
    return p, g1, g2, lr1, lr2, mu, wd


def _momentum_reference(p, g1, g2, lr1: float, lr2: float, mu: float, wd: float):
    """Two steps of the real torch.optim.SGD; the learning rate drops between them."""
    param = p.detach().clone().requires_grad_(True)
    optimizer = torch.optim.SGD([param], lr=lr1, momentum=mu, weight_decay=wd)
    for g, lr in ((g1, lr1), (g2, lr2)):
        optimizer.param_groups[0]["lr"] = lr  # what a learning-rate scheduler does
        param.grad = g.detach().clone()
        optimizer.step()
    return param.detach(), optimizer.state[param]["momentum_buffer"].detach().clone()


def _momentum_form(p, g1, g2, lr1, lr2, mu, wd, *, decay=True, after=False, form="torch"):
    """Two momentum steps written out, in the variants learners mix up."""
    v = None
    for g, lr in ((g1, lr1), (g2, lr2)):
        d = g + wd * p if decay and not after else g
        if form == "torch":
            v = d if v is None else mu * v + d
            p = p - lr * (v + wd * p if after else v)
        elif form == "sutskever":  # v = μv − lr·g; p ← p + v (TensorFlow, Sutskever et al.)
            v = -lr * d if v is None else mu * v - lr * d
            p = p + v
        elif form == "ema":  # v = μv + (1 − μ)g, from v = 0
            v = (1 - mu) * d if v is None else mu * v + (1 - mu) * d
            p = p - lr * v
        elif form == "no_momentum":
            v = d
            p = p - lr * v
    return p, v


_MOMENTUM_MISTAKES = (
    Mistake(
        "sutskever_form",
        lambda *a: _momentum_form(*a, form="sutskever"),
        Msg(
            "This is the Sutskever/TensorFlow form, whose velocity already contains the learning "
            "rate. It agrees with PyTorch's only while lr stays the same; here lr changed between "
            "the steps.",
            "这是 Sutskever / TensorFlow 的写法，它的速度里已经乘进了学习率。只有学习率不变时它才与 "
            "PyTorch 的结果一致；而这里两步之间学习率变了。",
        ),
    ),
    Mistake(
        "no_weight_decay",
        lambda *a: _momentum_form(*a, decay=False),
        Msg(
            "Your steps leave out the weight decay: with weight_decay=wd the optimizer does not "
            "use the gradient alone.",
            "你的两步漏掉了权重衰减：设置 weight_decay=wd 后，优化器用的不只是梯度本身。",
        ),
    ),
    Mistake(
        "decay_after_momentum",
        lambda *a: _momentum_form(*a, after=True),
        Msg(
            "You applied the weight decay after the velocity, directly to the step (decoupled, "
            "AdamW-style). torch.optim.SGD adds it to the gradient before the velocity sees it.",
            "你把权重衰减放在了速度之后、直接加到更新量上（解耦式，类似 AdamW）。torch.optim.SGD "
            "是在速度更新之前就把它加到梯度上的。",
        ),
    ),
    Mistake(
        "same_lr",
        lambda p, g1, g2, lr1, lr2, mu, wd: _momentum_form(p, g1, g2, lr1, lr1, mu, wd),
        Msg(
            "Your second step still uses the first learning rate: the optimizer reads lr afresh "
            "at every step, so the second step uses lr2.",
            "你的第二步仍然用的是第一步的学习率：优化器每一步都会重新读取 lr，第二步应使用 lr2。",
        ),
    ),
    Mistake(
        "dampened_average",
        lambda *a: _momentum_form(*a, form="ema"),
        Msg(
            "You treated the velocity as a moving average, weighting the new gradient by (1 − μ). "
            "PyTorch does that only with dampening, which is 0 by default.",
            "你把速度当成了滑动平均，新梯度乘上了 (1 − μ)。PyTorch 只有在设置 dampening 时才这样做，"
            "而它默认为 0。",
        ),
    ),
    Mistake(
        "no_momentum",
        lambda *a: _momentum_form(*a, form="no_momentum"),
        Msg(
            "Your second step forgot the old velocity: with momentum it keeps a share of the first "
            "step's velocity.",
            "你的第二步忘了旧的速度：有动量时，第二步会保留第一步速度的一部分。",
        ),
    ),
)

register(
    Exercise(
        id="training_step.momentum_two_steps",
        derives=False,
        title=Msg(
            "Two SGD steps: momentum, weight decay, a new learning rate",
            "两步 SGD：动量、权重衰减和新的学习率",
        ),
        make_args=_momentum_args,
        reference=_momentum_reference,
        kind="tensors",
        output_names=("p", "v"),
        forbids=BY_HAND | {OPTIM},
        hints=(
            Msg(
                "Write the two steps one after the other in the order step() works: first the "
                "gradient the optimizer actually uses, then the velocity, then the parameter. "
                "Which of these quantities contain the learning rate?",
                "按 step() 内部的顺序依次写出两步：先是优化器实际使用的梯度，再是速度，最后是参数。"
                "想一想：这些量里哪些含有学习率？",
            ),
            Msg(
                "Weight decay changes the gradient (with the parameter's value at that step) before "
                "the velocity is updated. PyTorch's velocity holds gradients only, no learning "
                "rate: lr scales the velocity when the parameter moves, so a new lr rescales all "
                "of it. The first step starts the velocity at that step's gradient.",
                "权重衰减在速度更新之前修改梯度（用的是该步时参数的值）。PyTorch 的速度里只有梯度，"
                "不含学习率：参数移动时才用 lr 缩放速度，所以换了学习率就会把整个速度一起重新缩放。"
                "第一步时，速度就从该步的梯度开始。",
            ),
        ),
        mistakes=_MOMENTUM_MISTAKES,
        edge_cases=lambda: [
            (
                torch.tensor([1.0, 2.0]),
                torch.tensor([0.5, -1.0]),
                torch.zeros(2),
                0.1,
                0.05,
                0.9,
                0.0,
            ),
            (
                torch.tensor([3.0], dtype=torch.float64),
                torch.tensor([1.0], dtype=torch.float64),
                torch.tensor([1.0], dtype=torch.float64),
                0.2,
                0.02,
                0.5,
                0.1,
            ),
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
    layer = nn.Linear(3, 3)  # used twice; BatchNorm in between so that buffers show too
    return nn.Sequential(layer, nn.BatchNorm1d(3), layer)


def _count_state_dict(model: nn.Module) -> int:
    return sum(t.numel() for t in model.state_dict().values())


def _count_per_layer(model: nn.Module) -> int:
    return sum(p.numel() for layer in model for p in layer.parameters())


register(
    Exercise(
        id="training_step.count_parameters",
        title=Msg("Counting a model's parameters", "统计模型的参数个数"),
        make_args=_model_args,
        reference=_count_reference,
        kind="value",
        hints=(
            Msg(
                "A parameter is a tensor that the optimizer trains; the question is how many "
                "numbers those tensors hold together. Which method of a module lists its "
                "parameters, and which method of a tensor tells its number of elements?",
                "参数是优化器要训练的张量；题目问的是这些张量一共包含多少个数。"
                "模块的哪个方法会列出它的参数？张量的哪个方法给出它的元素个数？",
            ),
            Msg(
                "Let the model list its own parameters: it lists each tensor once, even when a "
                "layer is used twice, and it leaves out buffers (BatchNorm's running statistics), "
                "which the state_dict does contain. Add up element counts, not tensors, and "
                "return a Python int.",
                "让模型自己列出参数：即使某一层用了两次，每个张量也只列出一次；它也不包含缓冲区"
                "（BatchNorm 的滑动统计量），而 state_dict 里有这些缓冲区。把元素个数加起来，"
                "而不是张量个数，并返回 Python 的 int。",
            ),
        ),
        mistakes=(
            Mistake(
                "tensors_not_numbers",
                lambda model: len(list(model.parameters())),
                Msg(
                    "You counted the parameter tensors, not the numbers in them.",
                    "你数的是参数张量的个数，而不是其中数值的个数。",
                ),
            ),
            Mistake(
                "state_dict",
                _count_state_dict,
                Msg(
                    "Your count includes the state_dict's buffers (BatchNorm's running_mean, "
                    "running_var, num_batches_tracked): they are saved with the model but not "
                    "trained, so they are not parameters.",
                    "你的计数包含了 state_dict 中的缓冲区（BatchNorm 的 running_mean、running_var、"
                    "num_batches_tracked）：它们随模型一起保存，但不参与训练，所以不是参数。",
                ),
            ),
            Mistake(
                "shared_layer_twice",
                _count_per_layer,
                Msg(
                    "You counted a layer that the model uses twice two times: it holds one set of "
                    "parameters, shared by both uses.",
                    "模型用了两次的那一层被你数了两遍：它只有一组参数，两处使用共享这组参数。",
                ),
            ),
            Mistake(
                "weights_only",
                lambda model: sum(p.numel() for p in model.parameters() if p.dim() > 1),
                Msg(
                    "Your count leaves out the biases (and BatchNorm's scale and shift): they are "
                    "parameters too.",
                    "你的计数漏掉了偏置（以及 BatchNorm 的缩放和平移参数）：它们也是参数。",
                ),
            ),
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


def _no_parentheses(prediction: torch.Tensor, labels: torch.Tensor):
    prediction = prediction.detach().clone().requires_grad_(True)
    loss = (prediction - labels).sum
    loss.backward()  # AttributeError: a method has no .backward()
    return loss, prediction.grad


def _untracked(prediction: torch.Tensor, labels: torch.Tensor):
    loss = (prediction - labels).sum()
    loss.backward()  # RuntimeError: nothing here requires grad
    return loss, prediction.grad


register(
    Exercise(
        id="training_step.fixed_loss",
        title=Msg("The loss and its gradient", "损失及其梯度"),
        make_args=_loss_args,
        reference=_loss_reference,
        kind="tensors",
        output_names=("loss", "prediction.grad"),
        hints=(
            Msg(
                "Two things must be true before backward() can fill a .grad: the loss is a "
                "tensor (the result of calling a method, not the method), and it was computed "
                "from a tensor that requires gradients.",
                "backward() 要能填好 .grad，必须满足两点：损失是一个张量（是调用方法得到的结果，"
                "而不是方法本身），并且它是由需要梯度的张量算出来的。",
            ),
            Msg(
                "The function receives a plain tensor: make your own copy that tracks gradients "
                "(as the lesson does with detach, clone and requires_grad_), compute the sum from "
                "it, call backward() on that, and return the loss with the gradient stored in "
                "your copy, not in the argument.",
                "函数拿到的是普通张量：像课上那样（detach、clone、requires_grad_）做一份会追踪梯度的"
                "副本，用它求和，对结果调用 backward()，再返回损失和存在副本里的梯度，而不是参数里的。",
            ),
        ),
        mistakes=(
            Mistake(
                "no_parentheses",
                _no_parentheses,
                Msg(
                    "`.sum` without parentheses is the method itself, not the sum; a method has no "
                    "`.backward()`. This is the mistake from the lesson's notes.",
                    "不带括号的 `.sum` 是方法本身，而不是求和的结果；方法没有 `.backward()`。"
                    "这正是课上那份笔记里的错误。",
                ),
                raises="AttributeError",
            ),
            Mistake(
                "untracked",
                _untracked,
                Msg(
                    "backward() was called on a loss that nothing in the graph requires gradients "
                    "for: the prediction you were given does not track gradients, your copy must.",
                    "你对一个不需要梯度的损失调用了 backward()：传进来的 prediction 并不追踪梯度，"
                    "你做的副本才应该追踪。",
                ),
                raises="RuntimeError",
            ),
            Mistake(
                "mean",
                lambda prediction, labels: tuple(
                    t / prediction.numel() for t in _loss_reference(prediction, labels)
                ),
                Msg(
                    "You took the mean; the tutorial's loss is the plain sum of the differences.",
                    "你求的是平均值；教程里的损失是差值的直接求和。",
                ),
            ),
            Mistake(
                "reversed",
                lambda prediction, labels: tuple(-t for t in _loss_reference(prediction, labels)),
                Msg(
                    "Your loss is labels − prediction: the order of the subtraction is reversed, "
                    "so the loss and its gradient have the wrong sign.",
                    "你的损失是 labels − prediction：减法的顺序反了，所以损失和梯度的符号都不对。",
                ),
            ),
            Mistake(
                "copy_not_grad",
                lambda prediction, labels: (
                    _loss_reference(prediction, labels)[0],
                    prediction.detach().clone(),
                ),
                Msg(
                    "The second value is the prediction itself, not its gradient: return the "
                    "copy's .grad.",
                    "第二个返回值是 prediction 本身，而不是它的梯度：请返回副本的 .grad。",
                ),
            ),
        ),
        edge_cases=lambda: [
            (torch.zeros(1, 3), torch.zeros(1, 3)),
            (torch.ones(2, 2, dtype=torch.float64), torch.ones(2, 2, dtype=torch.float64)),
        ],
    )
)
