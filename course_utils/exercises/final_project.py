"""Lesson 13 · The final project: a two-layer classifier by hand, a custom Function, planted bugs.

The network of the project (x: N×D inputs, labels: N class indices in range(C))::

    z1 = x @ W1 + b1                  hidden pre-activation, N×H
    h = act(z1)                       hidden activation, N×H (act: the learner's variant)
    logits = h @ W2 + b2              N×C
    loss = cross_entropy(logits, labels)   the mean over the N samples

The learner's ``mlp_backward`` returns every intermediate's gradient, in the order of
``GRAD_NAMES``; each is graded by its own exercise (partial credit per tensor), which compares
that one element of the learner's tuple. References use autograd and torch.nn.functional; the
catalogued mistakes are written out by hand, each with one slip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F

from course_utils.checks import CheckFailure, check_tensor
from course_utils.exercises import BY_HAND, OPTIM, Exercise, Mistake, Variant, register
from course_utils.i18n import Msg
from course_utils.project import ACTIVATION_FAMILY, ACTIVATIONS, two_moons

GRAD_NAMES = ("d_logits", "d_W2", "d_b2", "d_h", "d_z1", "d_W1", "d_b1")
ACCURACY_THRESHOLD = 0.95


# ----------------------------------------------------------------------------------------
# Exercises that grade one part of a learner's answer


@dataclass(frozen=True)
class PartExercise(Exercise):
    """An exercise that grades only some elements of the learner's tuple (``parts``).

    One learner function answers several exercises, each worth its own points: a wrong
    ∂loss/∂W1 costs that tensor's points, not the whole backward pass's. ``size`` is the
    length the tuple must have; a Python number where a tensor is expected is taken as one."""

    parts: tuple[int, ...] = (0,)
    size: int = 1

    def with_member(self, k: int) -> Exercise:
        # dataclasses.replace runs __post_init__ again, which adds the rules every exercise
        # has; a member must forbid exactly what its family forbids, even when a test has
        # lifted some of them on the registered exercise.
        chosen = super().with_member(k)
        if chosen is not self:
            object.__setattr__(chosen, "forbids", self.forbids)
            object.__setattr__(chosen, "process", self.process)
        return chosen

    def _compare(self, actual: Any, expected: Any, label: str) -> None:
        if not isinstance(actual, (tuple, list)) or len(actual) != self.size:
            got = type(actual).__name__
            if isinstance(actual, (tuple, list)):
                got += f" of length {len(actual)}"
            raise CheckFailure(
                Msg(
                    f"✗ {label}: expected a tuple of {self.size} values, got {got}.",
                    f"✗ {label}：应返回包含 {self.size} 个值的元组，实际得到 {got}。",
                )
            )
        for i in self.parts:
            got, want = actual[i], expected[i]
            if isinstance(got, (int, float)) and not isinstance(got, bool):
                # a logged loss may well be a Python number (loss.item())
                # 写日志用的损失完全可以是 Python 数值（loss.item()）
                got = torch.tensor(float(got), dtype=want.dtype)
            name = self.output_names[i] if i < len(self.output_names) else f"{label}[{i}]"
            check_tensor(
                got, want, name=name, rtol=self.rtol, atol=self.atol, no_graph=self.no_graph
            )


@dataclass(frozen=True)
class AccuracyExercise(Exercise):
    """Graded on a threshold: the learner's predicted labels must be right often enough."""

    threshold: float = ACCURACY_THRESHOLD

    def _compare(self, actual: Any, expected: Any, label: str) -> None:
        if not isinstance(actual, torch.Tensor) or actual.shape != expected.shape:
            what = (
                f"shape {tuple(actual.shape)}"
                if isinstance(actual, torch.Tensor)
                else type(actual).__name__
            )
            raise CheckFailure(
                Msg(
                    f"✗ {label}: expected a tensor of {len(expected)} labels, got {what}.",
                    f"✗ {label}：应返回含 {len(expected)} 个标签的张量，实际得到 {what}。",
                )
            )
        right = float((actual.detach().round().long() == expected).double().mean())
        if right < self.threshold:
            raise CheckFailure(
                Msg(
                    f"✗ {label}: validation accuracy {right:.3f}, below {self.threshold}.",
                    f"✗ {label}：验证集准确率为 {right:.3f}，低于 {self.threshold}。",
                )
            )


# ----------------------------------------------------------------------------------------
# Part 2 · every intermediate's gradient, by hand


def _act(name: str, z: torch.Tensor) -> torch.Tensor:
    return {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[name](z)


def _int(gen: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high + 1, (1,), generator=gen))


def _network(gen: torch.Generator) -> tuple:
    """Random (x, labels, W1, b1, W2, b2) of random sizes, every class used at least once."""
    n, d, h, c = _int(gen, 4, 8), _int(gen, 2, 3), _int(gen, 2, 5), _int(gen, 2, 4)
    x = torch.randn(n, d, generator=gen)
    labels = torch.cat([torch.arange(c), torch.randint(0, c, (n,), generator=gen)])[:n]
    labels = labels[torch.randperm(n, generator=gen)]
    w1 = torch.randn(d, h, generator=gen)
    b1 = torch.randn(h, generator=gen) * 0.5
    w2 = torch.randn(h, c, generator=gen)
    b2 = torch.randn(c, generator=gen) * 0.5
    return x, labels, w1, b1, w2, b2


def _edge_networks() -> list[tuple]:
    """One sample (N = 1: a mean that is a sum), and a network sure of the right class."""
    x = torch.tensor([[0.5, -1.0]])
    w1 = torch.tensor([[0.4, -0.6, 0.1], [0.3, 0.8, -0.5]])
    b1 = torch.tensor([0.1, 0.0, -0.2])
    w2 = torch.tensor([[0.7, -0.4], [-0.3, 0.9], [0.2, 0.5]])
    b2 = torch.tensor([0.05, -0.1])
    sure = torch.tensor([[8.0, -8.0], [-8.0, 8.0], [8.0, -8.0]])
    xs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    return [
        (x, torch.tensor([1]), w1, b1, w2, b2),
        (xs, torch.tensor([0, 1, 0]), w1, b1, sure, b2),
    ]


def mlp_reference(x, labels, W1, b1, W2, b2, *, act: str) -> tuple[torch.Tensor, ...]:
    """Every intermediate's gradient, from autograd (retain_grad on the intermediates)."""
    W1, b1, W2, b2 = (p.detach().clone().requires_grad_(True) for p in (W1, b1, W2, b2))
    z1 = x @ W1 + b1
    h = _act(act, z1)
    logits = h @ W2 + b2
    for t in (z1, h, logits):
        t.retain_grad()
    F.cross_entropy(logits, labels).backward()
    return logits.grad, W2.grad, b2.grad, h.grad, z1.grad, W1.grad, b1.grad


def _by_hand(
    x,
    labels,
    W1,
    b1,
    W2,
    b2,
    *,
    act: str,
    mean: bool = True,
    one_hot: bool = True,
    sign: float = 1.0,
    w2: str = "right",
    b2_sum: str = "sum",
    d_h_through_act: bool = False,
    act_grad: str = "right",
    w1: str = "right",
    b1_sum: str = "sum",
) -> tuple[torch.Tensor, ...]:
    """The seven gradients as a learner computes them, with the switches learners get wrong.

    A switch changes one intermediate; everything after it follows from the wrong value, as
    in the learner's own code."""
    z1 = x @ W1 + b1
    h = _act(act, z1)
    logits = h @ W2 + b2
    probs = torch.softmax(logits, dim=1)
    target = F.one_hot(labels, logits.shape[1]).to(probs.dtype) if one_hot else 0.0
    d_logits = sign * (probs - target) / (len(x) if mean else 1)
    d_w2 = (d_logits.T @ h) if w2 == "transposed" else h.T @ d_logits
    d_b2 = {"sum": d_logits.sum(dim=0), "mean": d_logits.mean(dim=0), "none": d_logits}[b2_sum]
    d_h = d_logits @ W2.T
    if act_grad == "right":
        local = {"tanh": 1 - h**2, "relu": (z1 > 0).to(h.dtype), "sigmoid": h * (1 - h)}[act]
    elif act_grad == "wrong_tensor":  # the formula of the derivative at the wrong tensor
        local = {"tanh": 1 - z1**2, "relu": h, "sigmoid": z1 * (1 - z1)}[act]
    else:
        local = torch.ones_like(h)
    d_z1 = d_h * local
    if d_h_through_act:
        d_h = d_z1
    if w1 == "transposed":
        d_w1 = d_z1.T @ x
    elif w1 == "summed_early":
        d_w1 = x.sum(dim=0)[:, None] * d_z1.sum(dim=0)[None, :]
    else:
        d_w1 = x.T @ d_z1
    d_b1 = {"sum": d_z1.sum(dim=0), "mean": d_z1.mean(dim=0), "none": d_z1}[b1_sum]
    return d_logits, d_w2, d_b2, d_h, d_z1, d_w1, d_b1


def _slip(**switches) -> Callable[..., tuple]:
    """A slip for every activation: the member's ``act`` is bound by :func:`_grad_exercise`."""
    return partial(_by_hand, **switches)


NO_MEAN = Mistake(
    "no_mean",
    _slip(mean=False),
    Msg(
        "Your gradient is N times too large: the loss is the mean over the N samples, so "
        "∂loss/∂logits keeps that 1/N, and every gradient after it inherits it.",
        "你的梯度是正确值的 N 倍：损失是对 N 个样本取平均，所以 ∂loss/∂logits 里保留着 1/N，"
        "之后的每个梯度都从它继承这个因子。",
    ),
)
NO_ONE_HOT = Mistake(
    "softmax_only",
    _slip(one_hot=False),
    Msg(
        "Your ∂loss/∂logits is the softmax alone: the loss is −log of the right class's "
        "probability, and differentiating that log takes something away from the right "
        "class's entry. Every gradient after it inherits the slip.",
        "你的 ∂loss/∂logits 只有 softmax：损失是正确类别概率的 −log，对这个 log 求导时，"
        "正确类别那一项还要减去一些东西。之后的每个梯度都继承了这个错误。",
    ),
)
SIGN = Mistake(
    "sign",
    _slip(sign=-1.0),
    Msg(
        "Your gradient has the wrong sign: raising the right class's logit lowers the loss, "
        "so that entry of ∂loss/∂logits is negative.",
        "你的梯度符号反了：提高正确类别的 logit 会降低损失，所以 ∂loss/∂logits 中那一项是负的。",
    ),
)
NO_ACT_GRAD = Mistake(
    "no_activation_derivative",
    _slip(act_grad="none"),
    Msg(
        "Your gradient skips the activation: between h and z1 the chain rule multiplies by "
        "the activation's derivative, element by element.",
        "你的梯度跳过了激活函数：从 h 到 z1，链式法则还要逐元素乘上激活函数的导数。",
    ),
)
ACT_GRAD_WRONG_TENSOR = Mistake(
    "activation_derivative_at_the_wrong_tensor",
    _slip(act_grad="wrong_tensor"),
    Msg(
        "Your activation's derivative is evaluated on the wrong tensor: write it down as a "
        "function, then check whether you feed it z1 or h = act(z1), the way you wrote it.",
        "你的激活函数导数用错了张量：先把导数写成函数，再检查代入的是 z1 还是 h = act(z1)，"
        "要和你写下的式子一致。",
    ),
)

_HINT_SHAPES = Msg(
    "Every gradient has the shape of the tensor it belongs to: print the shapes of yours next "
    "to those of logits, W2, b2, h, z1, W1 and b1.",
    "每个梯度的形状都与它对应的张量相同：把你的梯度和 logits、W2、b2、h、z1、W1、b1 的形状"
    "并排打印出来对照。",
)


def _grad_exercise(
    part: int, title: Msg, hints: tuple[Msg, ...], mistakes: tuple[Mistake, ...], novel: str
) -> Exercise:
    """The exercise grading ``GRAD_NAMES[part]``; one member per activation of the family."""
    name = GRAD_NAMES[part]
    variants = tuple(
        Variant(
            reference=partial(mlp_reference, act=act),
            mistakes=tuple(Mistake(m.name, partial(m.answer, act=act), m.msg) for m in mistakes),
        )
        for act in ACTIVATIONS
    )
    return register(
        PartExercise(
            id=f"final_project.{name}",
            forbids=BY_HAND,
            title=title,
            make_args=_network,
            family=ACTIVATION_FAMILY,
            variants=variants,
            kind="tensors",
            output_names=GRAD_NAMES,
            parts=(part,),
            size=len(GRAD_NAMES),
            hints=hints,
            edge_cases=_edge_networks,
            asks="derive",
            novel=novel,
        )
    )


_grad_exercise(
    0,
    Msg("∂loss/∂logits by hand", "手算 ∂loss/∂logits"),
    (
        Msg(
            "Write the loss of one sample as a function of its logits: softmax, then −log of "
            "the right class's probability. Differentiate it with respect to one logit, first "
            "the right class's, then another's, and put the two cases together.",
            "把一个样本的损失写成它的 logits 的函数：先做 softmax，再取正确类别概率的 −log。"
            "对某一个 logit 求导，先算正确类别的，再算其他类别的，然后把两种情况合起来。",
        ),
        Msg(
            "The two cases differ only at the right class's entry: build a tensor that marks "
            "that entry in each row (one row per sample). Then remember that the loss averages "
            "over the samples.",
            "两种情况只在正确类别那一项上不同：构造一个张量，在每一行（每个样本一行）标出那一项。"
            "再别忘了损失是对样本取平均的。",
        )
        + _HINT_SHAPES,
    ),
    (NO_MEAN, NO_ONE_HOT, SIGN),
    "the softmax/cross-entropy gradient as the first link of a whole classifier's backward pass",
)

_grad_exercise(
    1,
    Msg("∂loss/∂W2 by hand", "手算 ∂loss/∂W2"),
    (
        Msg(
            "logits = h @ W2 + b2. Ask which samples, which hidden unit and which class one "
            "weight W2[k, c] touches, and add up its effect over the samples.",
            "logits = h @ W2 + b2。想一想某一个权重 W2[k, c] 涉及哪些样本、哪个隐藏单元、哪个类别，"
            "再把它在各个样本上的作用加起来。",
        ),
        Msg(
            "A sum over the samples of products is one matrix product of h and ∂loss/∂logits; "
            "the result has the shape of W2 (H × C), so one of the two is transposed.",
            "对样本求乘积之和就是 h 与 ∂loss/∂logits 的一次矩阵乘法；结果的形状与 W2 相同"
            "（H × C），所以两者之一要转置。",
        )
        + _HINT_SHAPES,
    ),
    (
        Mistake(
            "transposed",
            _slip(w2="transposed"),
            Msg(
                "Your ∂loss/∂W2 is the transpose (C × H): it has the shape of W2, hidden units "
                "× classes.",
                "你的 ∂loss/∂W2 是转置（C × H）：它的形状应与 W2 相同，即隐藏单元数 × 类别数。",
            ),
        ),
        NO_MEAN,
        NO_ONE_HOT,
    ),
    "the output weights' gradient for a C-class output",
)

_grad_exercise(
    2,
    Msg("∂loss/∂b2 by hand: a broadcast bias", "手算 ∂loss/∂b2：被广播的偏置"),
    (
        Msg(
            "b2 has C entries but is added to every row of logits: broadcasting copied it N "
            "times. What does the backward pass do with the gradients of the copies?",
            "b2 只有 C 个元素，却加到了 logits 的每一行上：广播把它复制了 N 份。"
            "反向传播时，这些副本的梯度应当怎样处理？",
        ),
        Msg(
            "A tensor used N times (fan-out) receives the sum of the N gradients; the 1/N of "
            "the mean is already inside ∂loss/∂logits. The result has the shape of b2.",
            "一个张量被用了 N 次（扇出），它得到的是这 N 个梯度之和；均值带来的 1/N 已经包含在 "
            "∂loss/∂logits 里了。结果的形状与 b2 相同。",
        ),
    ),
    (
        Mistake(
            "broadcast_not_summed",
            _slip(b2_sum="none"),
            Msg(
                "You returned one row per sample (N × C): b2 was broadcast over the samples, "
                "so the rows' gradients add up to one vector shaped like b2.",
                "你为每个样本返回了一行（N × C）：b2 在样本上被广播了，所以要把各行的梯度加起来，"
                "得到一个与 b2 形状相同的向量。",
            ),
        ),
        Mistake(
            "averaged",
            _slip(b2_sum="mean"),
            Msg(
                "You averaged over the samples: the 1/N of the mean is already in "
                "∂loss/∂logits, so here the samples' gradients add up.",
                "你对样本取了平均：均值带来的 1/N 已经包含在 ∂loss/∂logits 里了，"
                "这里应该把各样本的梯度直接相加。",
            ),
        ),
        NO_ONE_HOT,
    ),
    "a broadcast bias's gradient summed over the batch, for a C-class output",
)

_grad_exercise(
    3,
    Msg("∂loss/∂h by hand", "手算 ∂loss/∂h"),
    (
        Msg(
            "h enters the loss only through logits = h @ W2 + b2. Each hidden unit of a sample "
            "feeds every class of that sample: which weights carry it there?",
            "h 只通过 logits = h @ W2 + b2 影响损失。一个样本的每个隐藏单元都会送到这个样本的每个"
            "类别：是哪些权重把它送过去的？",
        ),
        Msg(
            "∂loss/∂h is N × H: one matrix product of ∂loss/∂logits (N × C) with W2, arranged "
            "so that the shapes fit. It stops before the activation.",
            "∂loss/∂h 是 N × H：∂loss/∂logits（N × C）与 W2 的一次矩阵乘法，摆成形状能对上的样子。"
            "它停在激活函数之前。",
        ),
    ),
    (
        Mistake(
            "through_the_activation",
            _slip(d_h_through_act=True),
            Msg(
                "Your ∂loss/∂h already went through the activation's derivative: that is "
                "∂loss/∂z1. ∂loss/∂h is the gradient of the activation's output.",
                "你的 ∂loss/∂h 已经乘上了激活函数的导数：那是 ∂loss/∂z1。∂loss/∂h 是激活函数"
                "输出的梯度。",
            ),
        ),
        NO_MEAN,
        NO_ONE_HOT,
    ),
    "the gradient reaching the hidden activations through a C-class output layer",
)

_grad_exercise(
    4,
    Msg("∂loss/∂z1 by hand: through your activation", "手算 ∂loss/∂z1：穿过你的激活函数"),
    (
        Msg(
            "h = act(z1) acts element by element, so each element of z1 affects only its own "
            "element of h: one local derivative per element, multiplied by ∂loss/∂h.",
            "h = act(z1) 逐元素作用，所以 z1 的每个元素只影响 h 中对应的那一个元素：每个元素乘上"
            "一个局部导数，再乘以 ∂loss/∂h。",
        ),
        Msg(
            "Write your activation's derivative as a formula first. tanh and sigmoid have "
            "derivatives that can be written with their own output h; relu's is 0 or 1 "
            "depending on the sign of its input.",
            "先把你的激活函数的导数写成公式。tanh 和 sigmoid 的导数可以用它们自己的输出 h 表示；"
            "relu 的导数取决于输入的正负，是 0 或 1。",
        ),
    ),
    (NO_ACT_GRAD, ACT_GRAD_WRONG_TENSOR, NO_MEAN),
    "the derivative of the learner's own activation (tanh, relu or sigmoid)",
)

_grad_exercise(
    5,
    Msg("∂loss/∂W1 by hand", "手算 ∂loss/∂W1"),
    (
        Msg(
            "z1 = x @ W1 + b1: the same pattern as W2 one layer later. Which samples, which "
            "input feature and which hidden unit does W1[d, k] touch?",
            "z1 = x @ W1 + b1：与后一层的 W2 是同一个模式。W1[d, k] 涉及哪些样本、哪个输入特征、"
            "哪个隐藏单元？",
        ),
        Msg(
            "Multiply each sample's input by its own ∂loss/∂z1 and add up over the samples: "
            "one matrix product whose result is D × H, like W1.",
            "让每个样本的输入与它自己的 ∂loss/∂z1 相乘，再对样本求和：这是一次矩阵乘法，"
            "结果是 D × H，与 W1 相同。",
        )
        + _HINT_SHAPES,
    ),
    (
        Mistake(
            "transposed",
            _slip(w1="transposed"),
            Msg(
                "Your ∂loss/∂W1 is the transpose (H × D): it has the shape of W1, inputs × "
                "hidden units.",
                "你的 ∂loss/∂W1 是转置（H × D）：它的形状应与 W1 相同，即输入数 × 隐藏单元数。",
            ),
        ),
        Mistake(
            "summed_too_early",
            _slip(w1="summed_early"),
            Msg(
                "You summed over the samples before multiplying: each sample's input "
                "multiplies its own ∂loss/∂z1, and only the products are added up.",
                "你在相乘之前就对样本求了和：应当让每个样本的输入与它自己的 ∂loss/∂z1 相乘，"
                "再把这些乘积加起来。",
            ),
        ),
        NO_ACT_GRAD,
    ),
    "the first layer's weight gradient behind the learner's own activation",
)

_grad_exercise(
    6,
    Msg("∂loss/∂b1 by hand: a broadcast bias", "手算 ∂loss/∂b1：被广播的偏置"),
    (
        Msg(
            "b1 is broadcast over the samples exactly as b2 is, one layer earlier.",
            "b1 和后一层的 b2 一样，在样本上被广播。",
        ),
        Msg(
            "Start from ∂loss/∂z1 (N × H) and collect it over the samples: the result has the "
            "shape of b1, and no 1/N is added here.",
            "从 ∂loss/∂z1（N × H）出发，把它沿样本汇总：结果的形状与 b1 相同，这里不再加 1/N。",
        ),
    ),
    (
        Mistake(
            "broadcast_not_summed",
            _slip(b1_sum="none"),
            Msg(
                "You returned one row per sample (N × H): b1 was broadcast over the samples, "
                "so the rows' gradients add up to one vector shaped like b1.",
                "你为每个样本返回了一行（N × H）：b1 在样本上被广播了，所以要把各行的梯度加起来，"
                "得到一个与 b1 形状相同的向量。",
            ),
        ),
        Mistake(
            "averaged",
            _slip(b1_sum="mean"),
            Msg(
                "You averaged over the samples: the 1/N of the mean is already in "
                "∂loss/∂logits, so here the samples' gradients add up.",
                "你对样本取了平均：均值带来的 1/N 已经包含在 ∂loss/∂logits 里了，"
                "这里应该把各样本的梯度直接相加。",
            ),
        ),
        NO_ACT_GRAD,
    ),
    "the first layer's bias gradient behind the learner's own activation",
)


# ----------------------------------------------------------------------------------------
# Part 3 · a linear layer as a custom torch.autograd.Function


def _layer_args(gen: torch.Generator) -> tuple:
    n, d, m = _int(gen, 1, 6), _int(gen, 1, 4), _int(gen, 1, 4)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    w = torch.randn(d, m, generator=gen, dtype=torch.float64)
    b = torch.randn(m, generator=gen, dtype=torch.float64)
    grad_out = torch.randn(n, m, generator=gen, dtype=torch.float64)
    return x, w, b, grad_out


def _layer_reference(x, W, b, grad_out) -> tuple[torch.Tensor, ...]:
    x, W, b = (t.detach().clone().requires_grad_(True) for t in (x, W, b))
    out = F.linear(x, W.T, b)
    out.backward(grad_out)
    return out.detach(), x.grad, W.grad, b.grad


def _layer_slip(*, bias: str = "sum", weight_mean: bool = False, ignore_g: bool = False):
    def answer(x, W, b, grad_out):
        g = torch.ones_like(grad_out) if ignore_g else grad_out
        d_w = x.T @ g / (len(x) if weight_mean else 1)
        d_b = g.sum(dim=0) if bias == "sum" else g.mean(dim=0)
        return x @ W + b, g @ W.T, d_w, d_b

    return answer


register(
    Exercise(
        id="final_project.custom_function",
        title=Msg(
            "A linear layer as a custom autograd Function", "用自定义 autograd Function 实现线性层"
        ),
        make_args=_layer_args,
        reference=_layer_reference,
        kind="tensors",
        output_names=("out", "grad_x", "grad_W", "grad_b"),
        asks="build",
        novel="a whole custom autograd.Function (forward, saved tensors, backward) for a layer",
        rtol=1e-7,
        atol=1e-9,
        hints=(
            Msg(
                "forward computes the layer and saves, with ctx.save_for_backward, the tensors "
                "backward will need. backward receives grad_out, ∂loss/∂out, and returns one "
                "gradient per input of forward, in the same order and of the same shapes.",
                "forward 计算这一层，并用 ctx.save_for_backward 保存 backward 要用的张量。"
                "backward 接收 grad_out，即 ∂loss/∂out，并为 forward 的每个输入返回一个梯度，"
                "顺序相同，形状也相同。",
            ),
            Msg(
                "These are the gradients of part 2 with grad_out in place of ∂loss/∂logits: the "
                "input's goes back through the weights, the weights' combines the inputs with "
                "grad_out over the samples, and the broadcast bias collects grad_out. Use "
                "grad_out as given: gradcheck passes other incoming gradients than ones.",
                "它们就是第 2 部分的那些梯度，只是用 grad_out 代替了 ∂loss/∂logits：输入的梯度"
                "经由权重传回去，权重的梯度沿样本把输入和 grad_out 组合起来，被广播的偏置把 "
                "grad_out 汇总起来。grad_out 要原样使用：gradcheck 传入的上游梯度不全是 1。",
            ),
        ),
        mistakes=(
            Mistake(
                "bias_averaged",
                _layer_slip(bias="mean"),
                Msg(
                    "grad_b averages grad_out over the samples: the bias is broadcast to every "
                    "sample, so their gradients add up.",
                    "grad_b 对 grad_out 沿样本取了平均：偏置被广播到每个样本上，"
                    "所以它们的梯度应当相加。",
                ),
            ),
            Mistake(
                "weight_averaged",
                _layer_slip(weight_mean=True),
                Msg(
                    "grad_W is divided by the number of samples: any mean belongs to the loss "
                    "and is already inside grad_out; a layer's backward adds up.",
                    "grad_W 除以了样本数：平均属于损失，已经包含在 grad_out 里了；"
                    "一层的 backward 只做求和。",
                ),
            ),
            Mistake(
                "grad_out_ignored",
                _layer_slip(ignore_g=True),
                Msg(
                    "Your backward ignores grad_out, as if the loss were out.sum(): the "
                    "gradients it returns must be products with the incoming gradient.",
                    "你的 backward 忽略了 grad_out，就好像损失是 out.sum()：它返回的梯度"
                    "必须与传入的梯度相乘。",
                ),
            ),
        ),
    )
)


# ----------------------------------------------------------------------------------------
# Part 4 · training with your own gradients: validation accuracy over a threshold


def nearest_moon(points: torch.Tensor) -> torch.Tensor:
    """The label of the half circle nearest to each point: the noise-free truth the validation
    accuracy is measured against (grader-only, so that no kernel can ask it)."""
    p = points.double() + torch.tensor([0.5, 0.25], dtype=torch.float64)

    def distance(centre: tuple[float, float], upper: bool) -> torch.Tensor:
        d = p - torch.tensor(centre, dtype=torch.float64)
        on_arc = d[:, 1] >= 0 if upper else d[:, 1] <= 0
        to_circle = (d.norm(dim=1) - 1).abs()
        ends = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
        to_ends = torch.cdist(d, ends).min(dim=1).values
        return torch.where(on_arc, to_circle, to_ends)

    return (distance((1.0, 0.5), upper=False) < distance((0.0, 0.0), upper=True)).long()


def _fit_args(gen: torch.Generator) -> tuple:
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
    x_train, labels_train = two_moons(200, seed=seed)
    x_val, _ = two_moons(200, seed=seed + 1)
    return x_train, labels_train, x_val


def _one_class(args: tuple, actual: Any) -> bool:
    return isinstance(actual, torch.Tensor) and actual.numel() > 1 and len(actual.unique()) == 1


def _straight_line(args: tuple, actual: Any) -> bool:
    """Near what a straight boundary gets: the network has learned nothing non-linear."""
    if not isinstance(actual, torch.Tensor) or actual.shape != (len(args[2]),):
        return False
    right = float((actual.round().long() == nearest_moon(args[2])).double().mean())
    return 0.75 <= right < ACCURACY_THRESHOLD


register(
    AccuracyExercise(
        id="final_project.fit",
        forbids=BY_HAND | {OPTIM},
        derives=False,
        title=Msg(
            "Training with your own gradients: validation accuracy",
            "用你自己的梯度训练：验证集准确率",
        ),
        make_args=_fit_args,
        reference=lambda x_train, labels_train, x_val: nearest_moon(x_val),
        trials=1,
        hidden_trials=1,
        asks="build",
        novel="a training loop on the learner's own gradients, judged on unseen data",
        hints=(
            Msg(
                "Initialise the parameters with a fixed seed, then repeat: forward, your "
                "mlp_backward, and a step against each gradient. Predict the class with the "
                "largest logit. Return one label per row of x_val.",
                "用固定的种子初始化参数，然后反复执行：前向传播、你的 mlp_backward、"
                "让每个参数逆着它的梯度走一步。预测 logit 最大的那个类别。为 x_val 的每一行返回一个标签。",
            ),
            Msg(
                "If the accuracy stays near that of a straight line, look at the loss curve and "
                "the gradient norms of section 4: a learning rate too small, too few steps, or "
                "weights that start too small (all hidden units alike) each keep the boundary "
                "straight.",
                "如果准确率一直停在一条直线边界的水平，看看第 4 节的损失曲线和梯度范数："
                "学习率太小、步数太少、初始权重太小（所有隐藏单元都一样）都会让边界一直是直的。",
            ),
        ),
        diagnoses=(
            (
                _one_class,
                Msg(
                    "Every point got the same class: the training did not move the network "
                    "away from a constant guess (look at the loss and the gradients' norms).",
                    "所有点都被分到了同一类：训练没能让网络摆脱一个恒定的猜测"
                    "（看看损失和梯度的范数）。",
                ),
            ),
            (
                _straight_line,
                Msg(
                    "Your accuracy is about what a straight boundary reaches: the network has "
                    "not used its hidden layer yet. Train longer, or with a larger learning "
                    "rate, and draw the boundary to see it.",
                    "你的准确率大致是一条直线边界能达到的水平：网络还没有用上它的隐藏层。"
                    "训练更久一些，或用更大的学习率，并画出边界看一看。",
                ),
            ),
        ),
    )
)


# ----------------------------------------------------------------------------------------
# Part 5 · three planted bugs in a training script


def train_script(
    x,
    labels,
    W1,
    b1,
    W2,
    b2,
    lr,
    steps,
    *,
    reduction: str = "mean",
    zero_grad: str = "first",
    detach: str = "item",
):
    """The given script with its three places either fixed or as a learner left them.

    Returns (W1, b1, W2, b2, mean_loss): the trained parameters and the mean of the losses
    seen during training."""
    params = [p.detach().clone().requires_grad_(True) for p in (W1, b1, W2, b2)]
    optimizer = torch.optim.SGD(params, lr=lr)
    total = 0.0
    for _ in range(steps):
        if zero_grad == "first":
            optimizer.zero_grad()
        logits = torch.tanh(x @ params[0] + params[1]) @ params[2] + params[3]
        if reduction == "sum":
            loss = F.cross_entropy(logits, labels, reduction="sum")
        else:
            loss = F.cross_entropy(logits, labels) / (len(x) if reduction == "twice" else 1)
        if detach == "before_backward":
            loss = loss.detach()
        elif detach == "item_before_backward":
            loss = loss.item()
        loss.backward()
        if zero_grad == "before_step":
            optimizer.zero_grad()
        optimizer.step()
        total += loss if detach == "kept" else loss.item()
    mean_loss = total / steps
    if not isinstance(mean_loss, torch.Tensor):
        mean_loss = torch.tensor(mean_loss, dtype=x.dtype)
    return (*(p.detach() for p in params), mean_loss)


def _script_args(gen: torch.Generator, *, samples: int | None, steps: int | None) -> tuple:
    n = samples if samples is not None else _int(gen, 3, 8)
    d, h, c = _int(gen, 2, 3), _int(gen, 2, 4), _int(gen, 2, 3)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    labels = torch.randint(0, c, (n,), generator=gen)
    params = (
        torch.randn(d, h, generator=gen, dtype=torch.float64),
        torch.randn(h, generator=gen, dtype=torch.float64) * 0.5,
        torch.randn(h, c, generator=gen, dtype=torch.float64),
        torch.randn(c, generator=gen, dtype=torch.float64) * 0.5,
    )
    lr = round(float(torch.empty(()).uniform_(0.05, 0.5, generator=gen)), 3)
    return (x, labels, *params, lr, steps if steps is not None else _int(gen, 3, 6))


SCRIPT_NAMES = ("W1", "b1", "W2", "b2", "mean_loss")


def _bug(
    name: str,
    title: Msg,
    parts: tuple[int, ...],
    make_args: Callable[[torch.Generator], tuple],
    hints: tuple[Msg, ...],
    mistakes: tuple[Mistake, ...],
    novel: str,
    *,
    no_graph: bool = False,
) -> None:
    register(
        PartExercise(
            id=f"final_project.{name}",
            title=title,
            make_args=make_args,
            reference=train_script,
            kind="tensors",
            output_names=SCRIPT_NAMES,
            parts=parts,
            size=len(SCRIPT_NAMES),
            no_graph=no_graph,
            asks="debug",
            novel=novel,
            rtol=1e-6,
            atol=1e-9,
            hints=hints,
            mistakes=mistakes,
        )
    )


def _script_slip(**switches) -> Callable[..., tuple]:
    return lambda *args: train_script(*args, **switches)


# One step from fresh parameters: the loss seen is the first one, whatever the other two bugs.
_bug(
    "bug_reduction",
    Msg("Bug 1: the loss's reduction", "第 1 个错误：损失的归约方式"),
    (4,),
    lambda gen: _script_args(gen, samples=None, steps=1),
    (
        Msg(
            "Print the first loss and the first gradients for a batch of 4 samples and for the "
            "same batch copied twice (8 samples). Should either change?",
            "对 4 个样本的批次和把它复制一遍后的批次（8 个样本），分别打印第一步的损失和梯度。"
            "它们应该变吗？",
        ),
        Msg(
            "With a sum over the samples, the loss and every gradient grow with the batch, so "
            "the learning rate's meaning depends on the batch size. torch's cross-entropy "
            "already has the reduction you want: let it do the whole job, once.",
            "如果对样本求和，损失和每个梯度都会随批次变大，学习率的含义也就取决于批次大小了。"
            "torch 的交叉熵本身就提供了你需要的归约方式：让它完整地做一次，只做一次。",
        ),
    ),
    (
        Mistake(
            "still_summed",
            _script_slip(reduction="sum"),
            Msg(
                "The loss is still the sum over the samples, N times the mean: a bigger batch "
                "would mean bigger steps.",
                "损失仍然是对样本求和，是平均值的 N 倍：批次越大，步子就越大。",
            ),
        ),
        Mistake(
            "divided_twice",
            _script_slip(reduction="twice"),
            Msg(
                "Your loss is divided by N twice: F.cross_entropy already averages over the "
                "samples by default, so a division of your own makes it N times too small.",
                "你的损失被除了两次 N：F.cross_entropy 默认已经对样本取平均，"
                "你自己再除一次，结果就只有正确值的 1/N。",
            ),
        ),
    ),
    "a loss summed over the batch in a given script, found and fixed",
)

# One sample: a sum and a mean agree, so only the gradients' accumulation can differ.
_bug(
    "bug_zero_grad",
    Msg("Bug 2: gradients that accumulate", "第 2 个错误：不断累加的梯度"),
    (0, 1, 2, 3),
    lambda gen: _script_args(gen, samples=1, steps=None),
    (
        Msg(
            "Run the script for two steps and print W2.grad after each backward(): is the "
            "second gradient the second step's alone?",
            "让脚本跑两步，在每次 backward() 之后打印 W2.grad：第二次的梯度只是第二步的吗？",
        ),
        Msg(
            "backward() adds to .grad. Each step's gradients must start from nothing, and the "
            "optimizer must still see them when it steps.",
            "backward() 会累加到 .grad 上。每一步的梯度都要从零开始，而且优化器更新参数时还要能看到它们。",
        ),
    ),
    (
        Mistake(
            "still_accumulating",
            _script_slip(zero_grad="never"),
            Msg(
                "Your gradients still accumulate: from the second step on, each step used the "
                "sum of every gradient so far. Reset them once per step, before backward().",
                "你的梯度仍在累加：从第二步起，每一步用的都是之前所有梯度之和。"
                "每一步在 backward() 之前重置一次。",
            ),
        ),
        Mistake(
            "reset_before_step",
            _script_slip(zero_grad="before_step"),
            Msg(
                "Your parameters never move: the gradients are reset between backward() and "
                "step(), so the optimizer sees none.",
                "你的参数根本没动：梯度在 backward() 和 step() 之间被重置了，优化器看不到任何梯度。",
            ),
        ),
    ),
    "gradients that accumulate across steps in a given script, found and fixed",
)

# One sample, one step: the mean loss is the first loss whatever the other two bugs.
_bug(
    "bug_detach",
    Msg("Bug 3: a loss kept with its graph", "第 3 个错误：连同计算图一起保留的损失"),
    (4,),
    lambda gen: _script_args(gen, samples=1, steps=1),
    (
        Msg(
            "Look at what mean_loss is: print it, its requires_grad and its grad_fn. What does "
            "it keep alive after the loop?",
            "看看 mean_loss 是什么：打印它、它的 requires_grad 和 grad_fn。循环结束后，它让什么一直留在内存里？",
        ),
        Msg(
            "Adding a loss tensor to a running total records the addition too, and keeps every "
            "step's graph until the total is freed. Only the number is needed for the log, "
            "and backward() still needs the loss itself.",
            "把损失张量加到累计值上，这次加法也会被记录，每一步的计算图都会一直保留到累计值被释放。"
            "写日志只需要那个数值，而 backward() 仍然需要损失张量本身。",
        ),
    ),
    (
        Mistake(
            "still_attached",
            _script_slip(detach="kept"),
            Msg(
                "mean_loss is still part of a graph: every step's graph stayed alive to build "
                "it. Add only the loss's value to the total.",
                "mean_loss 仍然属于一个计算图：为了得到它，每一步的计算图都被保留了下来。"
                "只把损失的数值加到累计值上。",
            ),
        ),
        Mistake(
            "detached_before_backward",
            _script_slip(detach="before_backward"),
            Msg(
                "If the error says that element 0 does not require grad: the loss was "
                "detached before backward(), so there is no graph left to go back through. "
                "Detach only what you log.",
                "如果报错说 element 0 不需要梯度：损失在 backward() 之前就从计算图中分离了，"
                "已经没有计算图可以反向传播。只分离你写日志用的那个值。",
            ),
            raises="RuntimeError",
        ),
        Mistake(
            "item_before_backward",
            _script_slip(detach="item_before_backward"),
            Msg(
                "The loss became a Python number before backward(): a float has no graph and "
                "no backward(). Take .item() only for the log.",
                "损失在 backward() 之前就变成了 Python 数值：浮点数既没有计算图，也没有 "
                "backward()。只在写日志时取 .item()。",
            ),
            raises="AttributeError",
        ),
    ),
    "a logged loss that keeps every step's graph alive, found and fixed",
    no_graph=True,
)
